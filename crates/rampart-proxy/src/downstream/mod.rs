//! The client side of the proxy: one HTTP/1.1 connection from a client, served by its own
//! task, request after request.
//!
//! hyper's server connection was half of the proxy's instructions per small request that were
//! not ours (callgrind, `bench/proxy-cost.sh`: ~8,000 of 21,000 — its dispatcher, parser,
//! encoder, and the framing sniffer we ran before it to see what its parser hid). Here the
//! connection's task reads a head, hands the request to the service and writes its response,
//! as the upstream side does ([`crate::upstream::h1`]); HTTP/2 stays with hyper.
//!
//! What it speaks:
//! - Request heads as httparse reads them (it refuses invalid names, bare CR, obs-fold and a
//!   malformed request line: 400), at most the listener's head size and field count (431),
//!   within the header read timeout: the first head from the connection's start, each later
//!   one from its first byte. A refused head is answered with a refusal page and the
//!   connection closed.
//! - The body framing the service accepts ([`crate::hygiene::check_framing`], the one reading
//!   of it): a `Content-Length`, or chunked. A request the service refuses for its framing is
//!   answered and the connection closed, its body never read, so nothing smuggled in it is
//!   taken for a request. `Expect: 100-continue` is answered when the body is first read.
//! - Keep-alive as the version and `Connection` say; pipelined requests are answered in order.
//!   A body the service left unread (a refused request) is read and thrown away after the
//!   response when it is short (64 KiB within a second); a longer one, or one the client
//!   waits for a go-ahead to send, closes the connection.
//! - Responses framed by their known length, else chunked (HTTP/1.1) or to the close
//!   (HTTP/1.0); no body for HEAD, 1xx, 204 and 304; `Date` added; trailers only to a client
//!   that sent `TE: trailers`.
//! - On a drain (shutdown), an idle connection closes at once and a busy one after its
//!   response, which says `Connection: close`.

use std::io;
use std::sync::Arc;
use std::task::{ready, Poll};
use std::time::Duration;

use bytes::BytesMut;
use http::{Method, Request};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::body::ClientBody;
use crate::drain::Watcher;
use crate::http1::chunked::Chunked;
use crate::http1::names::NameCache;
use crate::http1::poll_read;
use crate::io::{IdleLimit, Watchdog};
use crate::pages::refusal;
use crate::service::{handle, Served};
use crate::settings::Limits;

mod body;
mod head;
mod response;

use body::{Home, Left, RequestBody};
pub use head::{parse as parse_head, BodyFraming, Head, Refusal};
use response::Asked;

/// How long, and how much, a closing connection reads and throws away (see [`Conn::close`]).
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_MAX: usize = 1024 * 1024;

/// A client connection: the stream, what has been read from it and not yet used, and the
/// buffer responses are written from.
pub(crate) struct Conn<T> {
    io: T,
    read: BytesMut,
    write: Vec<u8>,
    names: NameCache,
}

/// Why no request head came.
enum HeadError {
    Io(io::Error),
    /// The header read timeout passed.
    Timeout,
    Refused(Refusal),
}

/// What the service left unread of a request's body.
enum Unread {
    Nothing,
    /// The rest of the body, to be read past before the next head.
    Rest(Left),
    /// The client waits for a go-ahead it was never sent, and may never send the body: the
    /// connection cannot be read past it.
    NeverSent,
    /// A body whose framing the service refused: of no length anyone can trust (the
    /// connection closes after the answer).
    Unframed,
}

/// The header read timeout: when the head being read began.
struct HeadClock {
    limit: Duration,
    since: Option<Instant>,
    watch: Watchdog,
}

impl HeadClock {
    fn expired(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        match self.since {
            Some(since) => self.watch.passed(since + self.limit, cx),
            None => false,
        }
    }
}

/// Serve HTTP/1.1 on `io` (`read`: bytes already read from it) until the client closes it, it
/// breaks a rule, or the drain `watcher` watches begins.
pub async fn serve<T>(io: T, read: BytesMut, served: Arc<Served>, mut watcher: Watcher, limits: &Limits)
where
    T: AsyncRead + AsyncWrite + IdleLimit + Unpin + Send + Sync + 'static,
{
    let mut conn = Box::new(Conn { io, read, write: Vec::with_capacity(4096), names: NameCache::default() });
    // The first head is timed from the connection's start.
    let mut clock = HeadClock {
        limit: limits.header_read_timeout,
        since: Some(Instant::now()),
        watch: Watchdog::new(limits.header_read_timeout),
    };
    loop {
        let head = match conn.read_head(limits, &mut clock, &mut watcher).await {
            Ok(Some(head)) => head,
            Ok(None) => return conn.close(false).await,
            Err(HeadError::Refused(refused)) => return conn.refuse(&served, refused).await,
            Err(HeadError::Timeout) => {
                served.proxy.metrics.refused("header_read_timeout");
                return;
            }
            Err(HeadError::Io(e)) => {
                tracing::debug!(error = %e, "client connection failed reading a request head");
                return;
            }
        };
        let Head { parts, body, keep_alive, expect_continue, trailers } = head;
        let asked = Asked { version: parts.version, head_request: parts.method == Method::HEAD, trailers };
        let unframed = body == BodyFraming::Refused;
        let left = match body {
            BodyFraming::None | BodyFraming::Refused => None,
            BodyFraming::Length(n) => Some(Left::Length(n)),
            BodyFraming::Chunked => Some(Left::Chunked(Chunked::default())),
        };
        let (resp, unread) = match left {
            None => {
                let Ok(resp) = handle(Arc::clone(&served), Request::from_parts(parts, ClientBody::Empty)).await;
                (resp, if unframed { Unread::Unframed } else { Unread::Nothing })
            }
            // The connection goes with the body, and comes back when the body is dropped.
            Some(left) => {
                let home = Home::default();
                let body = RequestBody::new(conn, left, expect_continue, Arc::clone(&home));
                let req = Request::from_parts(parts, ClientBody::H1(body.boxed()));
                let Ok(resp) = handle(Arc::clone(&served), req).await;
                let Some(back) = home.lock().take() else {
                    // The body outlived the request: the connection went with it.
                    tracing::warn!("a request body outlived its request; connection closed");
                    return;
                };
                conn = back.conn;
                match back.left {
                    Left::Done => (resp, Unread::Nothing),
                    _ if back.waiting && conn.read.is_empty() => (resp, Unread::NeverSent),
                    left => (resp, Unread::Rest(left)),
                }
            }
        };
        let draining = std::future::poll_fn(|cx| Poll::Ready(watcher.draining(cx))).await;
        let mut close = !keep_alive || matches!(unread, Unread::NeverSent) || draining;
        // A WebSocket upgrade the upstream accepted: the 101, then the connection is the
        // tunnel's (see crate::tunnel).
        let mut resp = resp;
        let upgraded = if resp.status() == http::StatusCode::SWITCHING_PROTOCOLS { take_upgraded(&mut resp, close) } else { None };
        if let Err(e) = conn.respond(resp, &asked, &mut close).await {
            tracing::debug!(error = %e, "client connection failed writing a response");
            return;
        }
        if let Some(upgraded) = upgraded {
            let Conn { io, read, .. } = *conn;
            // Boxed: rare, and its future would make every connection's larger.
            let idle = served.proxy.runtime().limits.tunnel_idle_timeout;
            return Box::pin(crate::tunnel::splice(io, read, upgraded, idle, &mut watcher, &served.proxy.metrics)).await;
        }
        if close {
            return conn.close(!matches!(unread, Unread::Nothing)).await;
        }
        // A body the service left unread is read past (when short) before the next head.
        if let Unread::Rest(left) = unread {
            if !conn.discard(left).await {
                return conn.close(true).await;
            }
        }
        clock.since = None;
    }
}

/// The upstream connection a 101 response carries (see crate::tunnel), taken out of it. A 101
/// without one, or on a connection about to close (a drain began), is not sent: `resp` becomes
/// a 502, or a 503 with the upstream connection dropped (the access log and metrics keep the
/// 101 the service answered).
#[cold]
fn take_upgraded(resp: &mut http::Response<crate::body::ProxyBody>, close: bool) -> Option<crate::tunnel::Upgraded> {
    let refused = match crate::tunnel::Tunnel::take_from(resp) {
        Some(upgraded) if !close => return Some(upgraded),
        Some(_) => http::StatusCode::SERVICE_UNAVAILABLE,
        None => http::StatusCode::BAD_GATEWAY,
    };
    crate::tunnel::refuse(resp, refused, true);
    None
}

impl<T: AsyncRead + AsyncWrite + Unpin> Conn<T> {
    /// The next request head; `None` when the client closed the connection (or the drain
    /// began) before sending one.
    async fn read_head(&mut self, limits: &Limits, clock: &mut HeadClock, watcher: &mut Watcher) -> Result<Option<Head>, HeadError> {
        std::future::poll_fn(|cx| loop {
            if !self.read.is_empty() {
                match head::parse(&mut self.read, limits.max_headers, &mut self.names) {
                    Ok(Some(head)) => return Poll::Ready(Ok(Some(head))),
                    Ok(None) => {
                        if self.read.len() >= limits.max_header_bytes {
                            return Poll::Ready(Err(HeadError::Refused(Refusal {
                                status: http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                                reason: "request head too large",
                            })));
                        }
                        // A head has begun: its clock runs (from about its first byte; a
                        // head that arrives whole never reads the clock).
                        clock.since.get_or_insert_with(Instant::now);
                    }
                    Err(refused) => return Poll::Ready(Err(HeadError::Refused(refused))),
                }
            }
            match poll_read(&mut self.io, &mut self.read, cx) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(None)),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(HeadError::Io(e))),
                Poll::Pending => {
                    if self.read.is_empty() && watcher.draining(cx) {
                        return Poll::Ready(Ok(None));
                    }
                    if clock.expired(cx) {
                        return Poll::Ready(Err(HeadError::Timeout));
                    }
                    return Poll::Pending;
                }
            }
        })
        .await
    }

    /// Answer a head refused before the service saw it, and close.
    async fn refuse(mut self: Box<Self>, served: &Served, refused: Refusal) {
        let id = served.proxy.next_request_id();
        tracing::info!(target: "rampart::decision", request_id = %id, client = %served.meta.client, reason = refused.reason, "request head refused");
        served.proxy.metrics.response(refused.status.as_u16());
        let asked = Asked { version: http::Version::HTTP_11, head_request: false, trailers: false };
        let mut close = true;
        let resp = refusal(refused.status, &id, false, None, true);
        if self.respond(resp, &asked, &mut close).await.is_ok() {
            self.close(true).await;
        }
    }

    /// Close our side: flush, and for TLS say `close_notify`. With `linger` (the client may
    /// still be sending: a body nobody read, the rest of a refused head), what it sends is read
    /// and thrown away for a while first (nginx's lingering close): a socket closed with unread
    /// bytes answers them with a reset, which can destroy the response still on its way.
    async fn close(mut self: Box<Self>, linger: bool) {
        let _ = self.io.shutdown().await;
        if !linger {
            return;
        }
        let mut thrown = 0usize;
        let lingering = std::future::poll_fn(|cx| loop {
            self.read.clear();
            match ready!(poll_read(&mut self.io, &mut self.read, cx)) {
                Ok(n) if n > 0 && thrown < LINGER_MAX => thrown += n,
                _ => return Poll::Ready(()),
            }
        });
        let _ = tokio::time::timeout(LINGER_TIME, lingering).await;
    }
}

