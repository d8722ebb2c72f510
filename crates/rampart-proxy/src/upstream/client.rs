//! The upstream HTTP/1.1 client: keep-alive connections kept per thread.
//!
//! Each proxy worker (see [`crate::workers`]) is one thread with its own tokio runtime, and
//! keeps its own idle connections to each upstream server here. A request checks one out on
//! the thread it runs on and drives it from its own task ([`super::h1`]): the request is
//! written, and the response read, by the task that serves the client — no connection task,
//! no channel, no cross-thread wake-up, no lock per request.
//!
//! A connection goes back to its thread's idle list when the response body has been read to
//! the end ([`PooledBody`]); one whose body was abandoned is closed instead. Idle connections
//! older than [`IDLE_TIMEOUT`] are not reused (the server may be closing them), and at most
//! [`MAX_IDLE`] are kept per server and thread. Their age is counted in the thread's sweeps
//! (every [`SWEEP_EVERY`]), not read from the clock: two clock reads a request fewer.
//!
//! The read timeout (the wait for the response head, and between body chunks) is kept by a
//! watchdog that lives with the connection ([`crate::io`]'s lazy timer): its timer is armed once
//! and moved only when it fires, not registered and removed per request as a `timeout()` is.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::pin::Pin;
use std::future::Future;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use tokio::net::TcpStream;

use super::h1::{self, BodyState, Connection, Framing};
use crate::body::{BoxError, ProxyBody};
use crate::forward::ForwardFields;
use crate::io::Watchdog;
use crate::tunnel::Tunnel;

/// Idle connections older than this are closed instead of reused (to within a sweep: 28 to
/// 30 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// [`IDLE_TIMEOUT`] in sweeps.
const IDLE_SWEEPS: u32 = (IDLE_TIMEOUT.as_secs() / SWEEP_EVERY.as_secs()) as u32;
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
    Http(#[source] h1::Error),
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
/// Boxed where it is held ([`Conn`]): it moves from the idle list into a request's future,
/// then into the response body and back, and a pointer moves for less than the struct.
struct ConnState {
    io: Connection,
    watch: Watchdog,
}

type Conn = Box<ConnState>;

struct Idle {
    conn: Conn,
    /// The thread's sweep count when it went idle.
    since: u32,
}

thread_local! {
    /// Sweeps of this thread's idle connections so far.
    static SWEEPS: Cell<u32> = const { Cell::new(0) };
    /// Idle connections by server. A thread talks to a handful of servers: a scan of their
    /// addresses costs less than hashing one.
    static IDLE: RefCell<Vec<(SocketAddr, Vec<Idle>)>> = const { RefCell::new(Vec::new()) };
}

/// The most recently used idle connection to `addr` young enough, and (when `checked`) seen
/// open: nothing arrived on it since its last response.
fn take_idle(addr: SocketAddr, checked: bool) -> Option<Conn> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let (_, list) = idle.iter_mut().find(|(a, _)| *a == addr)?;
        while let Some(mut idle) = list.pop() {
            if young(idle.since) && (!checked || idle.conn.io.is_usable()) {
                return Some(idle.conn);
            }
        }
        None
    })
}

fn put_idle(addr: SocketAddr, conn: Conn) {
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
        list.push(Idle { conn, since: SWEEPS.with(Cell::get) });
    });
}

/// Whether a connection idle since sweep `since` is young enough to reuse.
fn young(since: u32) -> bool {
    SWEEPS.with(Cell::get).wrapping_sub(since) < IDLE_SWEEPS
}

/// Close this thread's idle connections that are too old or that the server closed (a
/// server's idle timeout is often shorter than ours): their sockets would sit in CLOSE_WAIT,
/// holding descriptors, until a request happened to take them. Returns how many remain.
pub fn sweep_idle() -> usize {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        for (_, list) in idle.iter_mut() {
            list.retain_mut(|idle| young(idle.since) && idle.conn.io.is_usable());
        }
        idle.retain(|(_, list)| !list.is_empty());
        idle.iter().map(|(_, list)| list.len()).sum()
    })
}

/// How often a worker sweeps its idle connections.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Sweep this thread's idle connections every [`SWEEP_EVERY`], for as long as the runtime
/// runs; spawned on each worker's own (single-threaded) runtime.
pub async fn sweep_idle_forever() {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        SWEEPS.with(|n| n.set(n.get().wrapping_add(1)));
        sweep_idle();
    }
}

/// A new connection to `addr`.
async fn connect(addr: SocketAddr, timeout: Duration, read_timeout: Duration) -> Result<Conn, UpstreamError> {
    let connect_error = |source| UpstreamError::Connect { addr, source };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(connect_error(e)),
        Err(_) => return Err(connect_error(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timeout"))),
    };
    let _ = stream.set_nodelay(true);
    Ok(Box::new(ConnState { io: Connection::new(stream), watch: Watchdog::new(read_timeout) }))
}

/// `exchange` (the request sent, its response head awaited) within `read_timeout` of now,
/// timed by the connection's watchdog. A future of its own rather than an `async fn`: the
/// exchange's future is moved into it once, where the `async fn` moved it into its arguments
/// and again into its pinned local (~90 instructions of copying each, callgrind).
fn within<F: Future>(watch: &mut Watchdog, read_timeout: Duration, exchange: F) -> Within<'_, F> {
    Within { exchange, watch, deadline: tokio::time::Instant::now() + read_timeout }
}

pin_project_lite::pin_project! {
    struct Within<'a, F> {
        #[pin]
        exchange: F,
        watch: &'a mut Watchdog,
        deadline: tokio::time::Instant,
    }
}

impl<F: Future> Future for Within<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        let this = self.project();
        match this.exchange.poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending if this.watch.passed(*this.deadline, cx) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Methods a client may send again on its own (RFC 9110 §9.2.2).
fn idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE)
}

/// Send `req` to `server` over a kept-alive connection (or a new one), and wait for the
/// response head at most `read_timeout`. The request's target is sent in origin form, with a
/// `Host` header (the server's address when the request has none).
///
/// A kept-alive connection may be closed by the server as a request is written to it. A
/// request without a body, of an idempotent method (RFC 9110 §9.2.2), takes the last idle
/// connection as it is, and is sent once more on a new connection if the server closes it
/// before a byte of the response; one with a body, which could not be sent again, takes only
/// a connection seen open just before (nothing arrived on it since its last response: no
/// syscall unless the socket was signalled since).
pub async fn send(
    server: SocketAddr,
    connect_timeout: Duration,
    read_timeout: Duration,
    req: Request<ProxyBody>,
    forwarding: Option<ForwardFields>,
) -> Result<Response<PooledBody>, UpstreamError> {
    let (mut parts, mut body) = req.into_parts();
    if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
        parts.uri = parts.uri.path_and_query().cloned().map(Uri::from).unwrap_or_else(|| Uri::from_static("/"));
    }
    let timed_out = || UpstreamError::Timeout { addr: server, after: read_timeout };
    let replayable = idempotent(&parts.method) && body.is_end_stream();
    let idle = take_idle(server, !replayable);
    let reused = idle.is_some();
    let mut conn = match idle {
        Some(conn) => conn,
        // Boxed: a connect's future is large and rare; inline, every request's future would
        // carry (and move) its room.
        None => Box::pin(connect(server, connect_timeout, read_timeout)).await?,
    };
    let head = match within(&mut conn.watch, read_timeout, conn.io.exchange(&parts, forwarding.as_ref(), &mut body, server)).await.ok_or_else(timed_out)? {
        Ok(head) => head,
        Err(e) if e.is_closed_before_response() && reused && replayable => {
            conn = Box::pin(connect(server, connect_timeout, read_timeout)).await?;
            let sent = conn.io.exchange(&parts, forwarding.as_ref(), &mut body, server);
            within(&mut conn.watch, read_timeout, sent).await.ok_or_else(timed_out)?.map_err(UpstreamError::Http)?
        }
        Err(e) => return Err(UpstreamError::Http(e)),
    };
    drop((parts, forwarding, body));
    let (parts, ()) = head.response.into_parts();
    if head.framing == Framing::Upgraded {
        // The connection leaves HTTP (and the pool) for the client's: see crate::tunnel.
        let mut resp = Response::from_parts(parts, PooledBody::done(read_timeout));
        resp.extensions_mut().insert(Tunnel::new(conn.io.into_upgraded()));
        return Ok(resp);
    }
    let mut body = PooledBody {
        state: BodyState::new(head.framing),
        reusable: head.reusable,
        conn: Some((server, conn)),
        read_timeout,
        last: None,
        in_flight: None,
    };
    // No body at all: the connection is free at once.
    body.release_if_done();
    Ok(Response::from_parts(parts, body))
}

/// An upstream response body, read from the connection by whoever polls it. It hands the
/// connection back to the thread's idle list once read to the end (when the connection may
/// carry another request), and fails when the upstream stalls longer than the read timeout
/// between two chunks.
pub struct PooledBody {
    state: BodyState,
    reusable: bool,
    conn: Option<(SocketAddr, Conn)>,
    read_timeout: Duration,
    /// When the wait for the next chunk began.
    last: Option<tokio::time::Instant>,
    /// The server's in-flight count (least-connections), held until the body is dropped.
    in_flight: Option<super::InFlight>,
}

impl std::fmt::Debug for PooledBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBody").field("state", &self.state).field("read_timeout", &self.read_timeout).finish()
    }
}

impl PooledBody {
    /// A body already read, with no connection to hand back.
    fn done(read_timeout: Duration) -> PooledBody {
        PooledBody { state: BodyState::Done, reusable: false, conn: None, read_timeout, last: None, in_flight: None }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Some((_, conn)) = this.conn.as_mut() else {
            return Poll::Ready(None);
        };
        match conn.io.poll_body(&mut this.state, cx) {
            Poll::Ready(None) => {
                this.release_if_done();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.last = None;
                this.release_if_done();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.conn = None;
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Pending => {
                let since = *this.last.get_or_insert_with(tokio::time::Instant::now);
                if conn.watch.passed(since + this.read_timeout, cx) {
                    // The connection is not reused: the rest of the body may still come.
                    this.conn = None;
                    return Poll::Ready(Some(Err(Box::new(BodyStalled(this.read_timeout)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, BodyState::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            BodyState::Done => SizeHint::with_exact(0),
            BodyState::Length(left) => SizeHint::with_exact(left),
            _ => SizeHint::default(),
        }
    }
}

impl PooledBody {
    /// The body holding `in_flight` until it is dropped: the server counts as busy until its
    /// response has been sent on. (Held here rather than by a body combinator around it: each
    /// layer costs a poll per frame.)
    pub fn holding(mut self, in_flight: Option<super::InFlight>) -> PooledBody {
        self.in_flight = in_flight;
        self
    }

    /// The body read to its end: the connection goes back to the idle list if it may carry
    /// another request, and is closed otherwise.
    fn release_if_done(&mut self) {
        if !matches!(self.state, BodyState::Done) {
            return;
        }
        if let Some((addr, conn)) = self.conn.take() {
            if self.reusable && !conn.io.has_leftover() {
                put_idle(addr, conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::time::Instant;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering every request with `ok` (a POST once its 5-byte body is in),
    /// counting connections; `one_each`: it closes each connection after one answer, as a
    /// server whose idle timeout is shorter than ours does.
    async fn server_closing(one_each: bool) -> (SocketAddr, Arc<AtomicUsize>) {
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
                            let body = if have.starts_with(b"POST") { 5 } else { 0 };
                            if have.len() < end + 4 + body {
                                break;
                            }
                            have.drain(..end + 4 + body);
                            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                            if one_each {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, conns)
    }

    async fn server() -> (SocketAddr, Arc<AtomicUsize>) {
        server_closing(false).await
    }

    fn get(addr: SocketAddr) -> Request<ProxyBody> {
        Request::get(format!("http://{addr}/x")).body(crate::body::full(Bytes::new())).unwrap()
    }

    #[tokio::test]
    async fn connections_are_reused_once_the_body_is_read() {
        let (addr, conns) = server().await;
        for _ in 0..5 {
            let resp = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr), None).await.unwrap();
            assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
        }
        assert_eq!(conns.load(Ordering::Relaxed), 1);
        // A body left unread: that connection is not reused.
        let unread = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr), None).await.unwrap();
        drop(unread);
        let resp = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr), None).await.unwrap();
        assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
        assert_eq!(conns.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_costs_no_request() {
        let (addr, conns) = server_closing(true).await;
        // GETs take the idle connection unchecked, meet the close, and go again on a new one.
        for _ in 0..3 {
            let resp = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr), None).await.unwrap();
            assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
        }
        assert!(conns.load(Ordering::Relaxed) >= 3);
        // A POST, which could not go again, takes only a connection seen open.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let post = Request::post(format!("http://{addr}/f")).header("content-length", "5").body(crate::body::full("hello")).unwrap();
        let resp = send(addr, Duration::from_secs(1), Duration::from_secs(5), post, None).await.unwrap();
        assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
    }

    #[tokio::test]
    async fn idle_connections_are_reused_until_their_sweeps_run_out() {
        let (addr, connections) = server().await;
        let fetch = || async {
            let resp = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr), None).await.unwrap();
            assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
        };
        fetch().await;
        SWEEPS.with(|n| n.set(n.get() + IDLE_SWEEPS - 1));
        fetch().await;
        assert_eq!(connections.load(Ordering::SeqCst), 1, "reused one sweep short of the timeout");
        SWEEPS.with(|n| n.set(n.get() + IDLE_SWEEPS));
        assert_eq!(sweep_idle(), 0, "the sweep closes it at the timeout");
        fetch().await;
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn idle_connections_the_server_closed_are_swept() {
        let (open_addr, _) = server().await;
        let (closing_addr, _) = server_closing(true).await;
        for addr in [open_addr, closing_addr] {
            let resp = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr), None).await.unwrap();
            assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
        }
        // The closing server's FIN arrives; the sweep sees it on the socket.
        let mut left = usize::MAX;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            left = sweep_idle();
            if left == 1 {
                break;
            }
        }
        assert_eq!(left, 1, "the open server's connection stays, the closed one goes");
        let kept = IDLE.with(|idle| idle.borrow().iter().map(|(a, l)| (*a, l.len())).collect::<Vec<_>>());
        assert_eq!(kept, [(open_addr, 1)]);
    }

    #[tokio::test]
    async fn refused_connections_are_connect_errors() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = send(addr, Duration::from_secs(1), Duration::from_secs(5), get(addr), None).await.unwrap_err();
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
        let err = send(addr, Duration::from_secs(1), Duration::from_millis(300), get(addr), None).await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(5), "{took:?}");
    }

    #[tokio::test]
    async fn a_body_stalled_longer_than_the_read_timeout_fails_and_its_connection_is_not_reused() {
        let addr = stalling_server(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nok").await;
        let resp = send(addr, Duration::from_secs(1), Duration::from_millis(300), get(addr), None).await.unwrap();
        let started = Instant::now();
        let err = resp.into_body().collect().await.unwrap_err();
        assert!(err.downcast_ref::<BodyStalled>().is_some(), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
        assert!(take_idle(addr, false).is_none(), "a stalled connection is not pooled");
    }
}
