//! One HTTP/1.1 connection to an upstream server, driven by the task of the request using it.
//!
//! hyper's client connection is a task of its own: a request is queued to it through a
//! channel, and its response head and each body chunk come back through others. On a small
//! GET that was a third of the proxy's instructions per request (callgrind, plain proxy:
//! the connection task alone 13.6k of 40.5k), and two more task wake-ups. Here the request's
//! own task writes the request and reads the response on the socket, as nginx and Pingora
//! do: the connection belongs to whoever uses it — a request, then its response body, then
//! the thread's idle list ([`super::client`]).
//!
//! What it speaks:
//! - Requests in origin form (the caller sets `Host`), HTTP/1.1, the body framed by the
//!   request's `Content-Length`, or chunked when it has none (a body that does not match its
//!   declared length is an error, and the connection is not reused). What the body has ready
//!   goes out with the head in one write.
//! - Responses framed as RFC 9112 §6.3 says: no body for a HEAD request, 1xx, 204 and 304;
//!   chunked when `Transfer-Encoding` ends in `chunked` (a `Content-Length` beside it is
//!   dropped and the connection not reused: a broken server or a response-smuggling attempt);
//!   another transfer coding, or no length at all, to the close; otherwise one
//!   `Content-Length` (several that disagree: an error). Interim responses (100 Continue,
//!   103 Early Hints) are skipped. A 101 naming `websocket` answers a request that asked for
//!   that upgrade ([`crate::tunnel`]): the connection then leaves HTTP and goes to the client's
//!   ([`Connection::into_upgraded`]); any other 101 is an error.
//! - A head over [`MAX_HEAD`] bytes or [`MAX_HEADERS`] fields, a malformed head or chunk: an
//!   error, and the connection is closed. A server closing a connection between responses
//!   is told from one that fails mid-response ([`Error::is_closed_before_response`]), so that
//!   a request it never saw can be sent again.

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, CONTENT_LENGTH, HOST, UPGRADE};
use http::{Method, Response, StatusCode, Version};
use http_body::{Body, Frame};
use tokio::net::TcpStream;

use crate::body::{BoxError, ProxyBody};
use crate::forward::ForwardFields;

use crate::http1::chunked::{Chunked, Decoded};
use crate::http1::names::NameCache;
use crate::http1::{closed, parse_length, poll_read, push_field, send, Malformed};

/// The largest response head read (status line and header fields).
pub const MAX_HEAD: usize = 64 * 1024;
/// The most header fields a response head may have.
pub const MAX_HEADERS: usize = 128;

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server closed the connection before sending a byte of the response.
    #[error("connection closed before the response")]
    ClosedBeforeResponse,
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    #[error("response head over {MAX_HEAD} bytes or {MAX_HEADERS} fields")]
    HeadTooLarge,
    #[error("the request body failed: {0}")]
    RequestBody(#[source] BoxError),
    #[error("request body of {sent} bytes, declared {declared}")]
    RequestBodyLength { declared: u64, sent: u64 },
}

impl From<Malformed> for Error {
    fn from(m: Malformed) -> Error {
        Error::Malformed(m.0)
    }
}

impl Error {
    /// The server closed the connection before answering: on a reused connection, the
    /// server's idle close crossing the request (it never saw it, or saw it closing).
    pub fn is_closed_before_response(&self) -> bool {
        matches!(self, Error::ClosedBeforeResponse)
    }
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// This many bytes.
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    Close,
    /// None: the server switched the connection to WebSocket (a 101 to a request that asked).
    Upgraded,
}

/// An open connection: the socket, what has been read from it and not yet used, and the
/// buffer the next request is written from.
pub struct Connection {
    io: TcpStream,
    read: BytesMut,
    write: Vec<u8>,
    names: NameCache,
}

/// A response head read, with what it means for its body and the connection.
pub struct Head {
    pub response: Response<()>,
    pub framing: Framing,
    /// The connection may carry another request once this response's body is read.
    pub reusable: bool,
}

impl Connection {
    pub fn new(io: TcpStream) -> Connection {
        Connection { io, read: BytesMut::with_capacity(8 * 1024), write: Vec::with_capacity(1024), names: NameCache::default() }
    }

    /// The socket of a connection the server switched to WebSocket, and what was read past
    /// the 101 head.
    pub fn into_upgraded(self) -> crate::tunnel::Upgraded {
        crate::tunnel::Upgraded { stream: self.io, read: self.read, in_flight: None }
    }

    /// Whether the idle connection is still usable: nothing arrived on it since its last
    /// response (no syscall unless the socket was signalled readable since then). A server's
    /// close, or bytes no request asked for, make it unusable.
    pub fn is_usable(&mut self) -> bool {
        if !self.read.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.io.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                matches!(self.io.try_read_buf(&mut self.read), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Send the request (`parts`, the proxy's `forwarding` fields, `body`) and read its
    /// response head. A request without `Host` is sent with `server` as its host. The
    /// request's body is sent in full before the response is read; a server that answers
    /// early and stops reading (a 413, say) makes the write fail, and its answer is then read
    /// if it sent one.
    pub async fn exchange(
        &mut self,
        parts: &http::request::Parts,
        forwarding: Option<&ForwardFields>,
        body: &mut ProxyBody,
        server: SocketAddr,
    ) -> Result<Head, Error> {
        let head_request = parts.method == Method::HEAD;
        let empty = body.is_end_stream();
        self.write.clear();
        let (declared, upgrade) = encode_head(&mut self.write, parts, forwarding, empty, server);
        let sent = if empty { self.flush().await.map(|()| 0) } else { self.send_body(body, declared).await };
        match sent {
            Ok(sent) => {
                if let Some(declared) = declared.filter(|d| *d != sent) {
                    return Err(Error::RequestBodyLength { declared, sent });
                }
            }
            Err(Error::Io(e)) => {
                // Written to a connection the server had closed: it never took the request.
                if self.read.is_empty() && closed(&e) {
                    return Err(Error::ClosedBeforeResponse);
                }
                // It may have answered before it stopped reading.
                return match self.read_head(head_request, upgrade).await {
                    Ok(mut head) => {
                        head.reusable = false;
                        Ok(head)
                    }
                    Err(_) => Err(Error::Io(e)),
                };
            }
            // The request body failed: nothing more to say to this server.
            Err(e) => return Err(e),
        }
        self.read_head(head_request, upgrade).await
    }

    /// The body after the head; one longer than `declared` is cut there (its excess would
    /// reach the server as the start of another request).
    async fn send_body(&mut self, body: &mut ProxyBody, declared: Option<u64>) -> Result<u64, Error> {
        let framing = send::Framing { chunked: declared.is_none(), trailers: true, length: declared };
        send::send_body(&mut self.io, &mut self.write, body, framing).await.map_err(|e| match e {
            send::SendError::Io(e) => Error::Io(e),
            send::SendError::Body(e) => Error::RequestBody(e),
            send::SendError::Longer { declared, sent } => Error::RequestBodyLength { declared, sent },
        })
    }

    async fn flush(&mut self) -> Result<(), Error> {
        Ok(send::flush(&mut self.io, &mut self.write).await?)
    }

    /// Read the final response head (skipping interim ones). `upgrade`: the request asked for
    /// a WebSocket upgrade, and a 101 that names it ends the head.
    async fn read_head(&mut self, head_request: bool, upgrade: bool) -> Result<Head, Error> {
        let mut received = false;
        loop {
            // Empty just after the request was sent (the usual case): nothing to parse yet.
            let parsed = if self.read.is_empty() { None } else { parse_head(&mut self.read, head_request, upgrade, &mut self.names)? };
            match parsed {
                Some(Parsed::Interim) => {
                    received = true;
                    continue;
                }
                Some(Parsed::Final(head)) => return Ok(head),
                None => {}
            }
            if self.read.len() >= MAX_HEAD {
                return Err(Error::HeadTooLarge);
            }
            let n = match std::future::poll_fn(|cx| poll_read(&mut self.io, &mut self.read, cx)).await {
                Ok(n) => n,
                Err(e) if closed(&e) && self.read.is_empty() && !received => 0,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Err(if self.read.is_empty() && !received {
                    Error::ClosedBeforeResponse
                } else {
                    Error::Malformed("connection closed in the response head")
                });
            }
        }
    }

    /// The next piece of a body framed by `framing` (which it advances), `None` at its end.
    pub fn poll_body(&mut self, framing: &mut BodyState, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        loop {
            match framing {
                BodyState::Done => return Poll::Ready(None),
                BodyState::Length(0) => {
                    *framing = BodyState::Done;
                    return Poll::Ready(None);
                }
                BodyState::Length(left) => {
                    if !self.read.is_empty() {
                        let n = usize::try_from(*left).unwrap_or(usize::MAX).min(self.read.len());
                        *left -= n as u64;
                        if *left == 0 {
                            *framing = BodyState::Done;
                        }
                        return Poll::Ready(Some(Ok(Frame::data(self.read.split_to(n).freeze()))));
                    }
                }
                BodyState::Close => {
                    if !self.read.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(self.read.split().freeze()))));
                    }
                }
                BodyState::Chunked(chunk) => match chunk.decode(&mut self.read) {
                    Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Decoded::Trailers(trailers)) => {
                        *framing = BodyState::Done;
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    Ok(Decoded::End) => {
                        *framing = BodyState::Done;
                        return Poll::Ready(None);
                    }
                    Ok(Decoded::NeedMore) => {}
                    Err(e) => return Poll::Ready(Some(Err(e.into()))),
                },
            }
            match ready!(poll_read(&mut self.io, &mut self.read, cx)) {
                Ok(0) if matches!(framing, BodyState::Close) => {
                    *framing = BodyState::Done;
                    return Poll::Ready(None);
                }
                Ok(0) => return Poll::Ready(Some(Err(Error::Malformed("connection closed in the body")))),
                Ok(_) => {}
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
            }
        }
    }

    /// Whether bytes beyond the response were read (a server answering twice): the
    /// connection cannot be trusted with another request.
    pub fn has_leftover(&self) -> bool {
        !self.read.is_empty()
    }
}

/// A body's progress: what is left of it.
#[derive(Debug)]
pub enum BodyState {
    Length(u64),
    Chunked(Chunked),
    Close,
    Done,
}

impl BodyState {
    pub fn new(framing: Framing) -> BodyState {
        match framing {
            Framing::Empty | Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => BodyState::Chunked(Chunked::default()),
            Framing::Close => BodyState::Close,
            Framing::Upgraded => BodyState::Done,
        }
    }
}

/// Read `data` as a server's bytes on a connection, as the client does — interim heads, the
/// final head, its body by its framing — without a socket: the fuzz target's entry point
/// (`fuzz/fuzz_targets/upstream_response.rs`). Returns the body bytes read before the data
/// ran out, or the error the client would meet. Never panics, whatever `data` is.
pub fn read_response_bytes(data: &[u8], head_request: bool) -> Result<usize, Error> {
    let mut buf = BytesMut::from(data);
    let head = loop {
        match parse_head(&mut buf, head_request, false, &mut NameCache::default())? {
            None => return Ok(0),
            Some(Parsed::Interim) => {}
            Some(Parsed::Final(head)) => break head,
        }
    };
    let mut read = 0;
    match BodyState::new(head.framing) {
        BodyState::Length(n) => read = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len()),
        BodyState::Close => read = buf.len(),
        BodyState::Chunked(mut chunk) => {
            while let Decoded::Data(data) = chunk.decode(&mut buf)? {
                read += data.len();
            }
        }
        BodyState::Done => {}
    }
    Ok(read)
}

// --- Requests -----------------------------------------------------------------------------

/// Write the request head: the request line, the client's fields (but the hop-by-hop ones
/// the caller removed and those `forwarding` replaces), `Host: server` when the request has
/// none, the forwarding fields, and the body's framing: chunked when it has a body and no
/// `Content-Length`. Returns the declared `Content-Length` (the first, as the client's parser
/// read it), and whether the request asks for an upgrade (it has an `Upgrade` field: the
/// service leaves one only on a WebSocket handshake). One pass over the fields: the look-ups
/// for `Host`, `Content-Length` and `Upgrade` would each hash a name.
fn encode_head(
    out: &mut Vec<u8>,
    parts: &http::request::Parts,
    forwarding: Option<&ForwardFields>,
    empty: bool,
    server: SocketAddr,
) -> (Option<u64>, bool) {
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts.uri.path_and_query().map_or("/", |pq| pq.as_str()).as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let (mut host, mut declared, mut upgrade) = (false, None::<Option<u64>>, false);
    for (name, value) in &parts.headers {
        if *name == HOST {
            host = true;
        } else if *name == UPGRADE {
            upgrade = true;
        } else if *name == CONTENT_LENGTH && declared.is_none() {
            declared = Some(value.to_str().ok().and_then(|s| s.trim().parse().ok()));
        } else if forwarding.is_some_and(|f| f.replaces(name.as_str())) {
            continue;
        }
        push_field(out, name.as_str(), value.as_bytes());
    }
    if !host {
        use std::io::Write;
        let _ = write!(out, "host: {server}\r\n");
    }
    if let Some(forwarding) = forwarding {
        out.extend_from_slice(forwarding.lines());
    }
    let declared = declared.flatten();
    if !empty && declared.is_none() {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    } else if empty && declared.is_none() && matches!(parts.method, Method::POST | Method::PUT | Method::PATCH) {
        // A method that carries a body, with none: say so, or the server may wait for one.
        out.extend_from_slice(b"content-length: 0\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (declared, upgrade)
}

// --- Response heads -----------------------------------------------------------------------

enum Parsed {
    /// A 1xx response other than 101, consumed.
    Interim,
    Final(Head),
}

/// Parse a response head at the front of `buf`, consuming it; `None` while it is incomplete.
/// Hop-by-hop fields (RFC 9110 §7.6.1: `Connection` and those it names, `Keep-Alive`,
/// `Transfer-Encoding`, …) are read for what they say about the message and the connection,
/// and left out of the head: they were the server's to us, not to the client. `upgrade`: the
/// request asked for a WebSocket upgrade; a 101 naming `websocket` is then its final head.
fn parse_head(buf: &mut BytesMut, head_request: bool, upgrade: bool, names: &mut NameCache) -> Result<Option<Parsed>, Error> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut parsed, buf, &mut fields) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Error::HeadTooLarge),
        Err(_) => return Err(Error::Malformed("invalid response head")),
    };
    let code = parsed.code.ok_or(Error::Malformed("no status"))?;
    let status = StatusCode::from_u16(code).map_err(|_| Error::Malformed("invalid status"))?;
    let switching = status == StatusCode::SWITCHING_PROTOCOLS;
    if switching {
        let names_token = |name: &str, token: &[u8]| {
            crate::tunnel::names_token(parsed.headers.iter().filter(|f| f.name.eq_ignore_ascii_case(name)).map(|f| f.value), token)
        };
        if !upgrade || !names_token("upgrade", b"websocket") || !names_token("connection", b"upgrade") {
            return Err(Error::Malformed("101 Switching Protocols to a request that did not ask for a WebSocket upgrade"));
        }
    } else if status.is_informational() {
        buf.advance(len);
        return Ok(Some(Parsed::Interim));
    }
    let version = if parsed.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    names.begin_head();
    let mut close = version == Version::HTTP_10;
    let mut transfer_encoding = None::<bool>;
    let mut length = None::<u64>;
    // Fields the `Connection` header names besides the standard hop-by-hop ones (rare).
    let mut named = Vec::new();
    for (at, field) in parsed.headers.iter().enumerate() {
        let (name, hop_by_hop) = names.get(at, field.name.as_bytes()).ok_or(Error::Malformed("invalid field name"))?;
        match hop_by_hop {
            // Connection
            Some(0) => {
                for token in field.value.split(|b| *b == b',').map(<[u8]>::trim_ascii).filter(|t| !t.is_empty()) {
                    if token.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        close &= version != Version::HTTP_10;
                    } else if let Ok(other) = HeaderName::from_bytes(token) {
                        named.push(other);
                    }
                }
            }
            // Transfer-Encoding: the last coding of the last field decides, chunked or not.
            Some(7) => {
                let last = field.value.rsplit(|b| *b == b',').next().map(<[u8]>::trim_ascii).unwrap_or_default();
                transfer_encoding = Some(last.eq_ignore_ascii_case(b"chunked"));
            }
            Some(_) => {}
            None => {
                if name == CONTENT_LENGTH {
                    for item in field.value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                        let n = parse_length(item).ok_or(Error::Malformed("invalid Content-Length"))?;
                        if length.is_some_and(|l| l != n) {
                            return Err(Error::Malformed("conflicting Content-Length"));
                        }
                        length = Some(n);
                    }
                }
                names.keep(name, buf, field.value);
            }
        }
    }
    // The values share the head, split off the read buffer (no copy); room for the
    // `X-Request-Id` the proxy adds (growing the map would rehash it).
    let head = buf.split_to(len).freeze();
    let mut headers = names.into_map(&head, 1);
    for name in named {
        headers.remove(name);
    }
    let no_body = head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let framing = match (transfer_encoding, length) {
        _ if switching => Framing::Upgraded,
        _ if no_body => Framing::Empty,
        (Some(chunked), _) => {
            if length.is_some() {
                // Both: the length is not to be trusted, nor the connection after it.
                headers.remove(CONTENT_LENGTH);
                close = true;
            }
            if chunked {
                Framing::Chunked
            } else {
                Framing::Close
            }
        }
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::Close,
    };
    let reusable = !close && !matches!(framing, Framing::Close | Framing::Upgraded);
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Ok(Some(Parsed::Final(Head { response, framing, reusable })))
}

#[cfg(test)]
mod tests;
