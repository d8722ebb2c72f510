//! Graceful drain of a listener's connections: on shutdown each connection is told to finish
//! the request in flight and close, and the listener waits until they all have.
//!
//! hyper-util's `graceful` module does this with a `watch` channel, whose `changed()` future
//! every connection polls each time its task runs: two polls of a channel per request, ~370
//! instructions of a plain proxy's ~25,000 (callgrind, `bench/proxy-cost.sh`). Here a
//! connection registers its task's waker once, and each poll after that is an atomic load and
//! a waker comparison; the drain sets the flag and wakes the registered tasks.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// The drain of one listener's connections.
#[derive(Default)]
pub struct Drain {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    draining: AtomicBool,
    state: Mutex<State>,
    /// Signalled when the last watcher goes while draining.
    done: Notify,
}

#[derive(Default)]
struct State {
    next: u64,
    /// Watchers alive (connections being served, or about to be).
    live: usize,
    /// The tasks to wake when the drain begins, by watcher.
    wakers: HashMap<u64, Waker>,
}

impl Shared {
    fn watcher(shared: &Arc<Shared>) -> Watcher {
        let mut state = shared.state.lock();
        state.live += 1;
        state.next += 1;
        Watcher { shared: Arc::clone(shared), key: state.next, registered: None }
    }
}

impl Drain {
    pub fn new() -> Drain {
        Drain::default()
    }

    /// A watcher for one connection: the drain waits for it to be dropped.
    pub fn watcher(&self) -> Watcher {
        Shared::watcher(&self.shared)
    }

    /// Tell every connection to finish what it is doing and close, and wait until all have.
    pub async fn shutdown(self) {
        self.shared.draining.store(true, Ordering::Release);
        let wakers: Vec<Waker> = self.shared.state.lock().wakers.drain().map(|(_, w)| w).collect();
        wakers.into_iter().for_each(Waker::wake);
        loop {
            let done = self.shared.done.notified();
            let mut done = std::pin::pin!(done);
            done.as_mut().enable();
            if self.shared.state.lock().live == 0 {
                return;
            }
            done.await;
        }
    }
}

/// One connection's part in the drain.
pub struct Watcher {
    shared: Arc<Shared>,
    key: u64,
    /// The waker registered for this connection's task, to tell whether it changed.
    registered: Option<Waker>,
}

impl Watcher {
    /// Serve `conn`, calling `on_drain` on it once when the drain begins (hyper's
    /// `graceful_shutdown`: finish the request in flight, then close).
    pub fn watch<C, F>(self, conn: C, on_drain: F) -> Watched<C, F>
    where
        C: Future,
        F: FnOnce(Pin<&mut C>),
    {
        Watched { conn, on_drain: Some(on_drain), watcher: self }
    }

    /// Another watcher on the same drain, for work this connection starts that may outlive
    /// its request (an HTTP/2 stream's WebSocket tunnel): the drain waits for it too.
    pub(crate) fn sibling(&self) -> Watcher {
        Shared::watcher(&self.shared)
    }

    /// Whether the drain has begun; registers `cx`'s task to be woken when it does.
    pub(crate) fn draining(&mut self, cx: &Context<'_>) -> bool {
        if !self.registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let waker = cx.waker().clone();
            self.shared.state.lock().wakers.insert(self.key, waker.clone());
            self.registered = Some(waker);
        }
        // Read after registering: a drain that began before is seen here, one that begins
        // after finds the waker.
        self.shared.draining.load(Ordering::Acquire)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let last = {
            let mut state = self.shared.state.lock();
            state.wakers.remove(&self.key);
            state.live -= 1;
            state.live == 0
        };
        if last && self.shared.draining.load(Ordering::Acquire) {
            self.shared.done.notify_waiters();
        }
    }
}

pin_project_lite::pin_project! {
    /// A connection served under a [`Drain`] (see [`Watcher::watch`]).
    pub struct Watched<C, F> {
        #[pin]
        conn: C,
        on_drain: Option<F>,
        watcher: Watcher,
    }
}

impl<C, F> Future for Watched<C, F>
where
    C: Future,
    F: FnOnce(Pin<&mut C>),
{
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let mut this = self.project();
        if this.on_drain.is_some() && this.watcher.draining(cx) {
            if let Some(on_drain) = this.on_drain.take() {
                on_drain(this.conn.as_mut());
            }
        }
        this.conn.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A connection that ends only once told to drain.
    struct UntilDrained {
        told: bool,
    }

    impl Future for UntilDrained {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if self.told {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    fn serve(drain: &Drain) -> tokio::task::JoinHandle<()> {
        let watched = drain.watcher().watch(UntilDrained { told: false }, |c| c.get_mut().told = true);
        tokio::spawn(watched)
    }

    #[tokio::test]
    async fn shutdown_tells_every_connection_and_waits_for_all() {
        let drain = Drain::new();
        let served: Vec<_> = (0..3).map(|_| serve(&drain)).collect();
        tokio::task::yield_now().await;
        assert_eq!(drain.shared.state.lock().live, 3);
        // A watcher taken but not yet serving (a connection being prepared) is waited for.
        let pending = drain.watcher();
        let shutdown = tokio::spawn(drain.shutdown());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!shutdown.is_finished(), "the drain ended with a watcher alive");
        for s in served {
            tokio::time::timeout(Duration::from_secs(5), s).await.expect("a connection was not told").unwrap();
        }
        drop(pending);
        tokio::time::timeout(Duration::from_secs(5), shutdown).await.expect("the drain did not end").unwrap();
    }

    #[tokio::test]
    async fn a_connection_that_starts_after_the_drain_began_is_told_at_once() {
        let drain = Drain::new();
        let late = drain.watcher();
        let keep = drain.watcher();
        drain.shared.draining.store(true, Ordering::Release);
        let served = tokio::spawn(late.watch(UntilDrained { told: false }, |c| c.get_mut().told = true));
        tokio::time::timeout(Duration::from_secs(5), served).await.expect("not told").unwrap();
        drop(keep);
        assert_eq!(drain.shared.state.lock().live, 0);
    }

    #[tokio::test]
    async fn a_drain_with_no_connections_ends_at_once() {
        tokio::time::timeout(Duration::from_secs(5), Drain::new().shutdown()).await.expect("the drain waited");
    }
}
