//! The upstream HTTP/1.1 client: keep-alive connections kept per thread.
//!
//! Each proxy worker (see [`crate::workers`]) is one thread with its own tokio runtime, and
//! keeps its own idle connections to each upstream server here. A request checks one out on
//! the thread it runs on, so the connection's task, the request's task and the client's
//! connection are all driven by the same thread: no cross-thread wake-up, no lock per request
//! (hyper-util's pooled client shares one locked pool between threads, and spawns a task per
//! request to return the connection once its body is read).
//!
//! A connection goes back to its thread's idle list when the response body has been read to
//! the end ([`PooledBody`]'s drop); one whose body was abandoned is closed instead. Idle
//! connections older than [`IDLE_TIMEOUT`] are not reused (the server may be closing them), and
//! at most [`MAX_IDLE`] are kept per server and thread.
//!
//! The read timeout (the wait for the response head, and between body chunks) is kept by a
//! watchdog that lives with the connection ([`crate::io`]'s lazy timer): its timer is armed once
//! and moved only when it fires, not registered and removed per request as a `timeout()` is.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::future::Future;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, HOST};
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::{BoxError, ProxyBody};
use crate::io::Watchdog;

/// Idle connections older than this are closed instead of reused.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per server, per thread.
pub const MAX_IDLE: usize = 256;

/// Why a request to an upstream server failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No connection: refused, unreachable, or not within the connect timeout.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The exchange failed: the server closed or broke the connection, sent a malformed
    /// response, or the request body failed (its error is in the source chain).
    #[error("upstream request failed: {0}")]
    Http(#[source] hyper::Error),
    /// No response head within the read timeout.
    #[error("no response from {addr} within {after:?}")]
    Timeout { addr: SocketAddr, after: Duration },
}

impl UpstreamError {
    /// The server could not be reached at all: certain, and the request was not sent.
    pub fn is_connect(&self) -> bool {
        matches!(self, UpstreamError::Connect { .. })
    }

    /// The server took longer than the read timeout to answer.
    pub fn is_timeout(&self) -> bool {
        matches!(self, UpstreamError::Timeout { .. })
    }
}

/// A body that stalled longer than the read timeout between two chunks.
#[derive(Debug, thiserror::Error)]
#[error("upstream body stalled for {0:?}")]
pub struct BodyStalled(pub Duration);

/// A connection and its read-timeout watchdog, which moves with it in and out of the pool.
struct Conn {
    sender: http1::SendRequest<ProxyBody>,
    watch: Watchdog,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

thread_local! {
    /// Idle connections by server. A thread talks to a handful of servers: a scan of their
    /// addresses costs less than hashing one.
    static IDLE: RefCell<Vec<(SocketAddr, Vec<Idle>)>> = const { RefCell::new(Vec::new()) };
}

/// The most recently used idle connection to `addr` that is still open and young enough.
fn take_idle(addr: SocketAddr) -> Option<Conn> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let (_, list) = idle.iter_mut().find(|(a, _)| *a == addr)?;
        while let Some(idle) = list.pop() {
            if !idle.conn.sender.is_closed() && idle.since.elapsed() < IDLE_TIMEOUT {
                return Some(idle.conn);
            }
        }
        None
    })
}

fn put_idle(addr: SocketAddr, conn: Conn) {
    if conn.sender.is_closed() {
        return;
    }
    // `try_with`: a body dropped while the thread is being torn down has nowhere to go.
    let _ = IDLE.try_with(|idle| {
        let mut idle = idle.borrow_mut();
        let at = idle.iter().position(|(a, _)| *a == addr).unwrap_or_else(|| {
            idle.push((addr, Vec::new()));
            idle.len() - 1
        });
        let Some((_, list)) = idle.get_mut(at) else { return };
        if list.len() >= MAX_IDLE {
            list.remove(0);
        }
        list.push(Idle { conn, since: Instant::now() });
    });
}

/// A new connection to `addr`; its task runs on the current thread's runtime.
async fn connect(addr: SocketAddr, timeout: Duration, read_timeout: Duration) -> Result<Conn, UpstreamError> {
    let connect_error = |source| UpstreamError::Connect { addr, source };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(connect_error(e)),
        Err(_) => return Err(connect_error(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timeout"))),
    };
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::Builder::new().handshake(TokioIo::new(stream)).await.map_err(UpstreamError::Http)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(server = %addr, error = %e, "upstream connection ended with an error");
        }
    });
    Ok(Conn { sender, watch: Watchdog::new(read_timeout) })
}

/// An idle connection made ready, or a new one.
async fn checkout(addr: SocketAddr, connect_timeout: Duration, read_timeout: Duration) -> Result<(Conn, bool), UpstreamError> {
    while let Some(mut conn) = take_idle(addr) {
        if conn.sender.ready().await.is_ok() {
            return Ok((conn, true));
        }
    }
    // Boxed: a connect's future is large and rare; inline, every request's future would carry
    // (and move) its room.
    let mut conn = Box::pin(connect(addr, connect_timeout, read_timeout)).await?;
    conn.sender.ready().await.map_err(UpstreamError::Http)?;
    Ok((conn, false))
}

/// `exchange` (the request sent, its response head awaited) within `read_timeout` of now,
/// timed by the connection's watchdog.
async fn within<F: Future>(watch: &mut Watchdog, read_timeout: Duration, exchange: F) -> Option<F::Output> {
    let deadline = tokio::time::Instant::now() + read_timeout;
    let mut exchange = std::pin::pin!(exchange);
    std::future::poll_fn(|cx| match exchange.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending if watch.passed(deadline, cx) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    })
    .await
}

/// Send `req` to `server` over a kept-alive connection (or a new one), and wait for the
/// response head at most `read_timeout`. The request's target is sent in origin form, with a
/// `Host` header (the server's address when the request has none). A request a reused
/// connection closed before taking is sent once more on a new connection.
pub async fn send(
    server: SocketAddr,
    connect_timeout: Duration,
    read_timeout: Duration,
    mut req: Request<ProxyBody>,
) -> Result<Response<PooledBody>, UpstreamError> {
    if !req.headers().contains_key(HOST) {
        if let Ok(v) = HeaderValue::from_str(&server.to_string()) {
            req.headers_mut().insert(HOST, v);
        }
    }
    if req.uri().scheme().is_some() || req.uri().authority().is_some() {
        let origin = req.uri().path_and_query().cloned().map(Uri::from).unwrap_or_else(|| Uri::from_static("/"));
        *req.uri_mut() = origin;
    }
    let timed_out = || UpstreamError::Timeout { addr: server, after: read_timeout };
    let (mut conn, reused) = checkout(server, connect_timeout, read_timeout).await?;
    let sent = conn.sender.try_send_request(req);
    let resp = match within(&mut conn.watch, read_timeout, sent).await.ok_or_else(timed_out)? {
        Ok(resp) => resp,
        Err(mut e) => match e.take_message() {
            // Not sent: the idle connection was closing as we took it. A new one is certain.
            Some(req) if reused => {
                conn = Box::pin(connect(server, connect_timeout, read_timeout)).await?;
                conn.sender.ready().await.map_err(UpstreamError::Http)?;
                let sent = conn.sender.send_request(req);
                within(&mut conn.watch, read_timeout, sent).await.ok_or_else(timed_out)?.map_err(UpstreamError::Http)?
            }
            _ => return Err(UpstreamError::Http(e.into_error())),
        },
    };
    Ok(resp.map(|body| PooledBody { inner: body, conn: Some((server, conn)), read_timeout, last: None }))
}

/// An upstream response body that hands its connection back to the thread's idle list once
/// it has been read to the end, and fails when the upstream stalls longer than the read
/// timeout between two chunks.
pub struct PooledBody {
    inner: Incoming,
    conn: Option<(SocketAddr, Conn)>,
    read_timeout: Duration,
    /// When the wait for the next chunk began.
    last: Option<tokio::time::Instant>,
}

impl std::fmt::Debug for PooledBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBody").field("inner", &self.inner).field("read_timeout", &self.read_timeout).finish()
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.release();
                Poll::Ready(None)
            }
            Poll::Ready(Some(r)) => {
                this.last = None;
                Poll::Ready(Some(r.map_err(Into::into)))
            }
            Poll::Pending => {
                let since = *this.last.get_or_insert_with(tokio::time::Instant::now);
                let stalled = this.conn.as_mut().is_some_and(|(_, conn)| conn.watch.passed(since + this.read_timeout, cx));
                if stalled {
                    // The connection is not reused: the rest of the body may still come.
                    this.conn = None;
                    return Poll::Ready(Some(Err(Box::new(BodyStalled(this.read_timeout)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((addr, conn)) = self.conn.take() {
            put_idle(addr, conn);
        }
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // Read to the end (hyper stops polling once `is_end_stream` says so): reusable. Cut
        // short: the rest of the body is still on the wire, so the connection is dropped.
        if self.inner.is_end_stream() {
            self.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering every request with `ok`, counting connections.
    async fn server() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&conns);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut have = Vec::new();
                    loop {
                        let n = match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        have.extend_from_slice(&buf[..n]);
                        while let Some(end) = have.windows(4).position(|w| w == b"\r\n\r\n") {
                            have.drain(..end + 4);
                            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                        }
                    }
                });
            }
        });
        (addr, conns)
    }

    fn get(addr: SocketAddr) -> Request<ProxyBody> {
        Request::get(format!("http://{addr}/x")).body(crate::body::full(Bytes::new())).unwrap()
    }

    #[tokio::test]
    async fn connections_are_reused_once_the_body_is_read() {
        let (addr, conns) = server().await;
        for _ in 0..5 {
            let resp = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr)).await.unwrap();
            assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
        }
        assert_eq!(conns.load(Ordering::Relaxed), 1);
        // A body left unread: that connection is not reused.
        let unread = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr)).await.unwrap();
        drop(unread);
        let resp = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr)).await.unwrap();
        assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
        assert_eq!(conns.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn refused_connections_are_connect_errors() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr)).await.unwrap_err();
        assert!(err.is_connect(), "{err}");
    }

    /// A server that reads each request head and answers with `answer`, then holds the
    /// connection open without another byte.
    async fn stalling_server(answer: &'static [u8]) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(answer).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn no_response_head_within_the_read_timeout_is_a_timeout() {
        let addr = stalling_server(b"").await;
        let started = Instant::now();
        let err = send(addr, Duration::from_secs(1), Duration::from_millis(300), get(addr)).await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(5), "{took:?}");
    }

    #[tokio::test]
    async fn a_body_stalled_longer_than_the_read_timeout_fails_and_its_connection_is_not_reused() {
        let addr = stalling_server(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nok").await;
        let resp = send(addr, Duration::from_secs(1), Duration::from_millis(300), get(addr)).await.unwrap();
        let started = Instant::now();
        let err = resp.into_body().collect().await.unwrap_err();
        assert!(err.downcast_ref::<BodyStalled>().is_some(), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
        assert!(take_idle(addr).is_none(), "a stalled connection is not pooled");
    }
}
