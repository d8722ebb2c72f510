//! A response to the client: its head (with the framing this connection chooses, `Date`, and
//! what becomes of the connection) and its body, gathered into as few writes as it takes.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{Response, StatusCode, Version};
use http_body::Body;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Conn;
use crate::body::{BoxError, ProxyBody};
use crate::http1::{parse_length, push_decimal, push_field, send, Malformed};

/// What the request asked of its response.
pub(super) struct Asked {
    pub version: Version,
    /// A HEAD request: the head says what a GET's body would be, and no body follows.
    pub head_request: bool,
    /// `TE: trailers`: trailer fields may end a chunked body.
    pub trailers: bool,
}

/// How the body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// Until the connection closes (an HTTP/1.0 client, a body of unknown length).
    Close,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Conn<T> {
    /// Write `resp`. `close`: the connection ends after it (the client is told so); set here
    /// when the response says so or its framing needs it. An error (the client gone, a body
    /// that failed or broke its length) leaves the connection unusable.
    pub(super) async fn respond(&mut self, resp: Response<ProxyBody>, asked: &Asked, close: &mut bool) -> Result<(), BoxError> {
        let (parts, mut body) = resp.into_parts();
        self.write.clear();
        let framing = encode_head(&mut self.write, &parts, &body, asked, close);
        let (chunked, length) = match framing {
            Framing::Empty | Framing::Length(0) => return self.flush().await,
            Framing::Length(n) => (false, Some(n)),
            Framing::Chunked => (true, None),
            Framing::Close => (false, None),
        };
        let sent = send::send_body(&mut self.io, &mut self.write, &mut body, send::Framing { chunked, trailers: asked.trailers, length }).await?;
        if length.is_some_and(|n| n != sent) {
            return Err(Box::new(Malformed("response body shorter than its length")));
        }
        Ok(())
    }

    pub(super) async fn flush(&mut self) -> Result<(), BoxError> {
        Ok(send::flush(&mut self.io, &mut self.write).await?)
    }
}

/// The status line and fields, with this connection's own framing fields, `Date` when the
/// response has none, and `Connection` as `close` decides (and as the response's own
/// `Connection: close` sets it).
fn encode_head(out: &mut Vec<u8>, parts: &http::response::Parts, body: &ProxyBody, asked: &Asked, close: &mut bool) -> Framing {
    let status = parts.status;
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let (mut declared, mut dated) = (None, false);
    for (name, value) in &parts.headers {
        if *name == CONTENT_LENGTH {
            declared = declared.or_else(|| parse_length(value.as_bytes()));
            continue;
        }
        if *name == TRANSFER_ENCODING {
            continue;
        }
        if *name == CONNECTION {
            *close |= value.as_bytes().split(|b| *b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
            continue;
        }
        dated |= *name == DATE;
        push_field(out, name.as_str(), value.as_bytes());
    }
    if !dated {
        push_date(out);
    }
    let exact = body.size_hint().exact();
    let no_body = asked.head_request || status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let framing = if no_body {
        // A HEAD or 304 response's length is the one a GET's body would have had.
        if status != StatusCode::NO_CONTENT && !status.is_informational() {
            if let Some(n) = declared.or(exact.filter(|n| *n > 0)) {
                push_length(out, n);
            }
        }
        Framing::Empty
    } else if let Some(n) = exact.or(declared) {
        push_length(out, n);
        Framing::Length(n)
    } else if asked.version == Version::HTTP_11 {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Framing::Chunked
    } else {
        *close = true;
        Framing::Close
    };
    if status == StatusCode::SWITCHING_PROTOCOLS {
        // Only a WebSocket upgrade the upstream accepted gets here (see crate::tunnel).
        out.extend_from_slice(b"connection: upgrade\r\nupgrade: websocket\r\n");
    } else if *close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if asked.version == Version::HTTP_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    framing
}

fn push_length(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(b"content-length: ");
    push_decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

thread_local! {
    /// The `Date` field's value for the current second, and that second.
    static DATE_TEXT: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
}

fn push_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE_TEXT.with_borrow_mut(|(at, text)| {
        if *at != second || text.is_empty() {
            *text = httpdate::fmt_http_date(now);
            *at = second;
        }
        push_field(out, "date", text.as_bytes());
    });
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::Poll;

    use bytes::Bytes;

    use super::*;
    use crate::body::{empty, full};

    fn head(resp: Response<ProxyBody>, asked: &Asked, close: &mut bool) -> (String, Framing) {
        let (parts, body) = resp.into_parts();
        let mut out = Vec::new();
        let framing = encode_head(&mut out, &parts, &body, asked, close);
        (String::from_utf8(out).unwrap(), framing)
    }

    const GET11: Asked = Asked { version: Version::HTTP_11, head_request: false, trailers: false };

    #[test]
    fn a_known_length_is_declared_and_the_date_added() {
        let resp = Response::builder().header("x-a", "1").body(full("hello")).unwrap();
        let (text, framing) = head(resp, &GET11, &mut false);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nx-a: 1\r\ndate: "), "{text}");
        assert!(text.ends_with(" GMT\r\ncontent-length: 5\r\n\r\n"), "{text}");
        assert_eq!(framing, Framing::Length(5));
    }

    #[test]
    fn an_unknown_length_is_chunked_for_http11_and_closes_for_http10() {
        /// A body whose length is not known ahead.
        struct Streamed;
        impl Body for Streamed {
            type Data = Bytes;
            type Error = BoxError;
            fn poll_frame(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
                Poll::Ready(None)
            }
        }
        let stream = || Response::new(http_body_util::BodyExt::boxed(Streamed));
        let (text, framing) = head(stream(), &GET11, &mut false);
        assert!(text.contains("transfer-encoding: chunked\r\n") && !text.contains("connection"), "{text}");
        assert_eq!(framing, Framing::Chunked);
        let mut close = false;
        let (text, framing) = head(stream(), &Asked { version: Version::HTTP_10, ..GET11 }, &mut close);
        assert!(close && text.contains("connection: close\r\n") && !text.contains("chunked"), "{text}");
        assert_eq!(framing, Framing::Close);
    }

    #[test]
    fn framing_fields_of_the_response_are_replaced_and_its_close_kept() {
        let resp = Response::builder()
            .header("content-length", "7")
            .header("transfer-encoding", "chunked")
            .header("connection", "close")
            .header("date", "Sun, 06 Nov 1994 08:49:37 GMT")
            .body(empty())
            .unwrap();
        let mut close = false;
        let (text, framing) = head(resp, &Asked { head_request: true, ..GET11 }, &mut close);
        assert_eq!(text, "HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\ncontent-length: 7\r\nconnection: close\r\n\r\n");
        assert!(close);
        assert_eq!(framing, Framing::Empty);
    }

    #[test]
    fn no_content_and_not_modified_have_no_body() {
        let resp = Response::builder().status(204).body(full("x")).unwrap();
        let (text, framing) = head(resp, &GET11, &mut false);
        assert!(!text.contains("content-length"), "{text}");
        assert_eq!(framing, Framing::Empty);
        let resp = Response::builder().status(304).header("content-length", "9").body(empty()).unwrap();
        let (text, framing) = head(resp, &GET11, &mut false);
        assert!(text.contains("content-length: 9\r\n"), "{text}");
        assert_eq!(framing, Framing::Empty);
    }
}
