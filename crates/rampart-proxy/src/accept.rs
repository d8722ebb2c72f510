//! The accept loop, on a thread of its own.
//!
//! A flood opens its connections all at once: thousands of them wait in the listen queue, and a
//! staff member whose connection opened in the same instant waits behind every one in front of
//! it until the loop has taken them. So the loop does as little as it can per connection, and
//! runs where nothing else delays it:
//! * on a thread of its own with the short scheduler slice (see [`crate::sched`]), not among the
//!   main runtime's tasks: it gets the CPU soon after the kernel reports waiting connections,
//!   even while the workers are busy with a flood;
//! * taking what the kernel holds in batches (up to [`BATCH`] connections) with plain
//!   `accept`s, not registered with this thread's reactor: a socket is registered once, by the
//!   worker that serves it. (tokio's `accept` registered it here, and handing it over took it
//!   out again: two `epoll_ctl`s and a slot per connection for nothing.)
//! * handing a batch's priority connections (staff networks, known from the peer) on before the
//!   rest of it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{oneshot, watch};

/// The most connections taken from the kernel before they are handed on.
pub const BATCH: usize = 128;

/// An accept loop: where connections come from and where they go.
struct Accepting<P, T> {
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
    /// Whether a connection from this peer goes first.
    is_priority: P,
    /// Hand on an accepted connection (non-blocking), with whether it is a priority one.
    take: T,
}

/// Accept from `listener` until `shutdown` turns true, on a thread of its own (on the caller's
/// runtime if that thread cannot start), handing each connection to `take`, the priority ones of
/// each batch first. The listener is closed when this returns.
pub async fn run<P, T>(listener: TcpListener, shutdown: watch::Receiver<bool>, is_priority: P, take: T)
where
    P: Fn(&SocketAddr) -> bool + Send + 'static,
    T: FnMut(TcpStream, SocketAddr, bool) + Send + 'static,
{
    let name = match listener.local_addr() {
        Ok(a) => format!("rampart-accept-{}", a.port()),
        Err(_) => "rampart-accept".to_string(),
    };
    // Parked here until the thread has started, so that it is still ours if it cannot.
    let parked = Arc::new(Mutex::new(Some(Accepting { listener, shutdown, is_priority, take })));
    let theirs = Arc::clone(&parked);
    let (done, finished) = oneshot::channel::<()>();
    let started = tokio::runtime::Builder::new_current_thread().enable_all().build().and_then(|runtime| {
        std::thread::Builder::new().name(name).spawn(move || {
            crate::sched::prefer_low_latency();
            let accepting = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(a) = accepting {
                runtime.block_on(a.run());
            }
            let _ = done.send(());
        })
    });
    match started {
        Ok(_) => {
            let _ = finished.await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the accept thread; accepting on the main runtime");
            let accepting = parked.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(a) = accepting {
                a.run().await;
            }
        }
    }
}

impl<P, T> Accepting<P, T>
where
    P: Fn(&SocketAddr) -> bool,
    T: FnMut(TcpStream, SocketAddr, bool),
{
    async fn run(self) {
        let Accepting { listener, mut shutdown, is_priority, mut take } = self;
        if let Err(e) = listener.set_nonblocking(true) {
            tracing::error!(error = %e, "cannot make the listener non-blocking: not accepting");
            return;
        }
        // SAFETY: a `std::net::TcpListener` owns its descriptor and has no way to close or
        // replace it; the `AsyncFd` owns the listener, so the descriptor stays open and the same
        // for the `AsyncFd`'s whole life, as `register_with_interest` requires.
        let listener = match unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE) } {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot watch the listener: not accepting");
                return;
            }
        };
        let (mut batch, mut later) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
        loop {
            let mut ready = tokio::select! {
                r = listener.readable() => match r {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "the listener failed: not accepting");
                        return;
                    }
                },
                _ = shutdown.changed() => return,
            };
            let mut failed = None;
            while batch.len() < BATCH {
                match listener.get_ref().accept() {
                    Ok((stream, peer)) => match stream.set_nonblocking(true) {
                        Ok(()) => batch.push((stream, peer)),
                        Err(e) => tracing::debug!(peer = %peer, error = %e, "accepted connection dropped"),
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        ready.clear_ready();
                        break;
                    }
                    // The client gave up before we took it, or a signal: the next one.
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::Interrupted) => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            for (stream, peer) in batch.drain(..) {
                if is_priority(&peer) {
                    take(stream, peer, true);
                } else {
                    later.push((stream, peer));
                }
            }
            for (stream, peer) in later.drain(..) {
                take(stream, peer, false);
            }
            if let Some(e) = failed {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Connections waiting together in the listen queue: the priority peer's is handed on first,
    /// though it connected last; the others keep their order.
    #[tokio::test]
    async fn a_batch_hands_on_its_priority_connections_first() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for source in ["127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2"] {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
            clients.push(socket.connect(addr).await.unwrap());
        }
        let (stop, shutdown) = watch::channel(false);
        let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let is_priority = |peer: &SocketAddr| peer.ip() == std::net::IpAddr::from([127, 0, 0, 2]);
        let take = move |mut stream: TcpStream, peer: SocketAddr, priority: bool| {
            // Handed on non-blocking, as a worker's reactor needs it.
            let mut byte = [0u8; 1];
            let would_block = matches!(stream.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
            let _ = seen_tx.send((peer, priority, would_block));
        };
        let accepting = tokio::spawn(run(listener, shutdown, is_priority, take));
        let mut order = Vec::new();
        for _ in 0..4 {
            order.push(seen.recv().await.unwrap());
        }
        assert_eq!(order[0].0.ip(), std::net::IpAddr::from([127, 0, 0, 2]));
        assert!(order[0].1 && order[1..].iter().all(|(_, p, _)| !p));
        let locals: Vec<u16> = clients[..3].iter().map(|c| c.local_addr().unwrap().port()).collect();
        assert_eq!(order[1..].iter().map(|(p, _, _)| p.port()).collect::<Vec<_>>(), locals);
        assert!(order.iter().all(|(_, _, would_block)| *would_block));
        stop.send(true).unwrap();
        accepting.await.unwrap();
        // The listener is closed once the loop has ended.
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
