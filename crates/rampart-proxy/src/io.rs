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
//! hyper's own `header_read_timeout` bounds the time to a complete request head; the body
//! minimum rate is enforced on the body (see `body.rs`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `T` with idle-read and stalled-write timeouts.
pub struct GuardedIo<T> {
    inner: T,
    idle: Duration,
    write: Duration,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl<T> GuardedIo<T> {
    pub fn new(inner: T, idle: Duration, write: Duration) -> GuardedIo<T> {
        GuardedIo { inner, idle, write, read_timer: None, write_timer: None }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

/// Arm `timer` if it is not running and report whether it has fired.
fn expired(timer: &mut Option<Pin<Box<Sleep>>>, after: Duration, cx: &mut Context<'_>) -> bool {
    let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + after)));
    sleep.as_mut().poll(cx).is_ready()
}

/// Push a running timer's deadline to `after` from now. Reset in place rather than dropped, so
/// that a task waiting on it (a reader, while another task writes) is still woken.
fn restart(timer: &mut Option<Pin<Box<Sleep>>>, after: Duration) {
    if let Some(sleep) = timer.as_mut() {
        sleep.as_mut().reset(Instant::now() + after);
    }
}

use std::future::Future;

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.read_timer = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if expired(&mut this.read_timer, this.idle, cx) {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "idle timeout")));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(r) => {
                this.write_timer = None;
                if matches!(r, Ok(n) if n > 0) {
                    restart(&mut this.read_timer, this.idle);
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                if expired(&mut this.write_timer, this.write, cx) {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "write timeout")));
                }
                Poll::Pending
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                this.write_timer = None;
                if matches!(r, Ok(n) if n > 0) {
                    restart(&mut this.read_timer, this.idle);
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                if expired(&mut this.write_timer, this.write, cx) {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "write timeout")));
                }
                Poll::Pending
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(r) => {
                this.write_timer = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if expired(&mut this.write_timer, this.write, cx) {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "write timeout")));
                }
                Poll::Pending
            }
        }
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
    async fn silent_peer_hits_idle_timeout() {
        let (a, _b) = tokio::io::duplex(64);
        let mut io = GuardedIo::new(a, Duration::from_secs(5), Duration::from_secs(5));
        let mut buf = [0u8; 8];
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
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
