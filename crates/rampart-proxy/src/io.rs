//! A connection wrapper that enforces the idle and write timeouts.
//!
//! * Idle: a read that has waited `idle` without a byte fails — a keep-alive connection that
//!   says nothing, or a slowloris trickling nothing between headers, is closed.
//! * Write: a write that has been blocked `write` without progress fails — a slow-read client
//!   that keeps its receive window shut cannot hold a response (and its upstream) hostage.
//!
//! A write that makes progress also restarts the idle clock: a client downloading a large
//! response has nothing to send meanwhile, and is not idle (nginx's `keepalive_timeout`, too,
//! applies only between requests).
//!
//! The HTTP/1 connection ([`crate::downstream`]) bounds the time to a complete request head;
//! the body minimum rate is enforced on the body (see `body.rs`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `T` with idle-read and stalled-write timeouts.
///
/// The hot path must not touch the timer wheel per request: each direction keeps one `Sleep`
/// for the connection's life and the time of its last progress. A read or write that makes
/// progress only stores `Instant::now()`; when the `Sleep` fires, the deadline is recomputed
/// from the last progress and the timer re-armed if the peer has moved since.
pub struct GuardedIo<T> {
    inner: T,
    read: Watchdog,
    write: Watchdog,
}

/// One direction's timeout: armed while an operation is pending, measured from its last
/// progress.
pub(crate) struct Watchdog {
    limit: Duration,
    /// When the current wait began (the last progress, or the first pending poll after it).
    since: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    /// The waker the timer was last polled with, while it has not fired since: polling it
    /// again for the same task changes nothing (and costs a waker registration each time).
    polled_for: Option<Waker>,
}

impl Watchdog {
    pub(crate) fn new(limit: Duration) -> Watchdog {
        Watchdog { limit, since: None, timer: None, polled_for: None }
    }

    /// The operation made progress: the next wait starts afresh.
    fn progress(&mut self) {
        self.since = None;
    }

    /// The connection made progress the other way: a wait in progress starts over now. The
    /// timer is not touched; when it fires, [`Watchdog::passed`] re-arms it from here.
    fn restart(&mut self) {
        if self.since.is_some() {
            self.since = Some(Instant::now());
        }
    }

    /// The operation is pending: true once it has waited `limit` without progress.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let since = *self.since.get_or_insert_with(Instant::now);
        self.passed(since + self.limit, cx)
    }

    /// Whether `deadline` has passed; if not, `cx` is woken when it may have. The timer is
    /// armed once and moved out only when it fires: a wait with a later deadline than the one
    /// armed (the next request's) leaves it alone, and the timer, firing early, re-arms itself
    /// for the wait then pending. So the timer wheel is not touched per request, only once per
    /// `limit` at most (a timer moved per request costs a wheel update, and when moved earlier
    /// than the runtime's next wake-up, an `eventfd` write to wake its own thread).
    pub(crate) fn passed(&mut self, deadline: Instant, cx: &mut Context<'_>) -> bool {
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() > deadline {
            // Armed for a later deadline than this wait's: bring it forward.
            timer.as_mut().reset(deadline);
            self.polled_for = None;
        }
        let registered = self.polled_for.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
        if registered && !timer.is_elapsed() {
            // Not fired, and it wakes this task when it does.
            return false;
        }
        if poll_timer(timer, cx).is_ready() {
            if Instant::now() >= deadline {
                self.polled_for = None;
                return true;
            }
            timer.as_mut().reset(deadline);
            let _ = poll_timer(timer, cx);
        }
        match &mut self.polled_for {
            Some(w) => w.clone_from(cx.waker()),
            None => self.polled_for = Some(cx.waker().clone()),
        }
        false
    }
}

/// Poll `timer` outside tokio's cooperative budget. A `Sleep` polled by a task that has spent
/// its budget (a connection writing a large response makes many socket calls per wake-up)
/// returns `Pending` without registering its waker — and [`Watchdog::passed`], which polls
/// the timer only until it is registered, would then never hear it fire: a slow reader that
/// stalled a large download right then was never cut by the write timeout.
fn poll_timer(timer: &mut Pin<Box<Sleep>>, cx: &mut Context<'_>) -> Poll<()> {
    let mut unbudgeted = tokio::task::unconstrained(timer.as_mut());
    Pin::new(&mut unbudgeted).poll(cx)
}

impl<T> GuardedIo<T> {
    pub fn new(inner: T, idle: Duration, write: Duration) -> GuardedIo<T> {
        GuardedIo { inner, read: Watchdog::new(idle), write: Watchdog::new(write) }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

/// A client connection whose idle timeout can be changed while it is open: a connection that
/// became a WebSocket tunnel takes the tunnels' (`tunnel_idle_timeout`).
pub trait IdleLimit {
    fn set_idle_timeout(&mut self, idle: Duration);
}

impl<T> IdleLimit for GuardedIo<T> {
    /// The wait in progress, if any, is measured against the new limit from its start: an
    /// armed timer set for the old deadline is moved when next polled (see
    /// [`Watchdog::passed`]: earlier at once, later when it fires).
    fn set_idle_timeout(&mut self, idle: Duration) {
        self.read.limit = idle;
    }
}

impl<T: IdleLimit> IdleLimit for tokio_rustls::server::TlsStream<T> {
    fn set_idle_timeout(&mut self, idle: Duration) {
        self.get_mut().0.set_idle_timeout(idle);
    }
}

use std::future::Future;

fn timed_out(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.read.progress();
                Poll::Ready(r)
            }
            Poll::Pending if this.read.expired(cx) => Poll::Ready(Err(timed_out("idle timeout"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> GuardedIo<T> {
    fn guard_write<R>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match result {
            Poll::Ready(r) => {
                self.write.progress();
                Poll::Ready(r)
            }
            Poll::Pending if self.write.expired(cx) => Poll::Ready(Err(timed_out("write timeout"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.read.restart();
        }
        this.guard_write(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.read.restart();
        }
        this.guard_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        this.guard_write(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_stalled_write_times_out_even_when_its_task_spent_its_budget() {
        let (a, _b) = tokio::io::duplex(16);
        let mut io = GuardedIo::new(a, Duration::from_secs(600), Duration::from_secs(5));
        io.write_all(&[0u8; 16]).await.unwrap();
        // In a task of its own: a task's waker is the same from one poll to the next, so the
        // watchdog takes the timer for registered once it has polled it.
        let writer = tokio::spawn(async move {
            let mut first = true;
            std::future::poll_fn(|cx| {
                if std::mem::take(&mut first) {
                    // Busy first, as a connection streaming a large response is: its budget is
                    // spent when the write below finds the pipe full and the timer is armed.
                    loop {
                        let spend = std::pin::pin!(tokio::task::consume_budget());
                        if spend.poll(cx).is_pending() {
                            break;
                        }
                    }
                }
                match Pin::new(&mut io).poll_write(cx, b"more") {
                    Poll::Ready(Ok(_)) => panic!("wrote into a full pipe"),
                    Poll::Ready(Err(e)) => Poll::Ready(e),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await
        });
        let err = tokio::time::timeout(Duration::from_secs(60), writer).await.expect("the write timeout never fired").unwrap();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn silent_peer_hits_idle_timeout() {
        let (a, _b) = tokio::io::duplex(64);
        let mut io = GuardedIo::new(a, Duration::from_secs(5), Duration::from_secs(5));
        let mut buf = [0u8; 8];
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    /// A tunnel's limit set on a connection already waiting: longer or shorter, it counts
    /// from the wait's start.
    #[tokio::test(start_paused = true)]
    async fn a_changed_idle_limit_applies_to_the_wait_in_progress() {
        for (first, then) in [(5, 20), (60, 3)] {
            let (a, _b) = tokio::io::duplex(64);
            let mut io = GuardedIo::new(a, Duration::from_secs(first), Duration::from_secs(5));
            let start = Instant::now();
            let mut buf = [0u8; 8];
            assert!(tokio::time::timeout(Duration::from_secs(2), io.read(&mut buf)).await.is_err());
            io.set_idle_timeout(Duration::from_secs(then));
            let err = io.read(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert_eq!(start.elapsed().as_secs(), then, "{first} s then {then} s");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reader_that_never_reads_hits_write_timeout() {
        let (a, _b) = tokio::io::duplex(16);
        let mut io = GuardedIo::new(a, Duration::from_secs(60), Duration::from_secs(3));
        let err = io.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn reader_of_a_long_response_is_not_idle() {
        let (a, mut b) = tokio::io::duplex(1024);
        let io = GuardedIo::new(a, Duration::from_secs(2), Duration::from_secs(5));
        // The peer reads 1 KiB a second for 10 s and sends nothing; meanwhile we also wait
        // for its next request, as hyper does.
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                b.read_exact(&mut buf).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let (mut r, mut w) = tokio::io::split(io);
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 1];
            let started = tokio::time::Instant::now();
            let err = r.read(&mut buf).await.unwrap_err();
            (err.kind(), started.elapsed())
        });
        w.write_all(&[0u8; 10 * 1024]).await.unwrap();
        let (kind, after) = reader.await.unwrap();
        assert_eq!(kind, io::ErrorKind::TimedOut);
        assert!(after >= Duration::from_secs(10), "idle timeout fired during the download, after {after:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn active_peer_is_not_cut() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = GuardedIo::new(a, Duration::from_secs(5), Duration::from_secs(5));
        tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_secs(3)).await;
                b.write_all(b"x").await.unwrap();
            }
        });
        let mut buf = [0u8; 1];
        for _ in 0..5 {
            io.read_exact(&mut buf).await.unwrap();
        }
    }
}
