//! A client's request head: parsed from the connection's read buffer, and what it says about
//! its body and the connection.

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::EXPECT;
use http::{Method, Request, StatusCode, Uri, Version};

use crate::http1::names::NameCache;
use crate::http1::range_in;
use crate::hygiene::check_framing;

/// Fields parsed into a stack array; a listener allowing more parses into a vector.
const STACK_FIELDS: usize = 128;

/// How the request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// This many bytes (more than none).
    Length(u64),
    Chunked,
    /// Framing the service refuses (see [`crate::hygiene`]): the body is never read, and the
    /// connection closes after the answer.
    Refused,
}

/// A request head read, and what it says about its body and the connection.
pub struct Head {
    pub parts: http::request::Parts,
    pub body: BodyFraming,
    /// The client wants the connection kept open after the response.
    pub keep_alive: bool,
    /// `Expect: 100-continue`: the client waits for a go-ahead before sending the body.
    pub expect_continue: bool,
    /// `TE: trailers`: the client takes trailer fields in a chunked response.
    pub trailers: bool,
}

/// A head the connection answers itself (and then closes): its status and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: &'static str,
}

impl Refusal {
    fn bad(reason: &'static str) -> Refusal {
        Refusal { status: StatusCode::BAD_REQUEST, reason }
    }
}

/// Parse a request head at the front of `buf`, consuming it; `None` while it is incomplete.
/// httparse refuses what RFC 9112 does not allow in a request head: invalid names, bare CR,
/// obs-fold, a malformed request line. At most `max_headers` fields.
pub fn parse(buf: &mut BytesMut, max_headers: usize, names: &mut NameCache) -> Result<Option<Head>, Refusal> {
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_FIELDS];
    let mut heap = Vec::new();
    let fields: &mut [MaybeUninit<httparse::Header<'_>>] = if max_headers < STACK_FIELDS {
        &mut stack[..max_headers + 1]
    } else {
        heap.resize_with(max_headers + 1, MaybeUninit::uninit);
        &mut heap
    };
    let mut req = httparse::Request::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(&mut req, buf, fields) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(too_many()),
        Err(_) => return Err(Refusal::bad("malformed request head")),
    };
    if req.headers.len() > max_headers {
        return Err(too_many());
    }
    let method = req.method.and_then(|m| Method::from_bytes(m.as_bytes()).ok()).ok_or(Refusal::bad("invalid method"))?;
    let version = if req.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let target = range_in(buf, req.path.ok_or(Refusal::bad("no request target"))?.as_bytes());
    names.begin_head();
    let (mut close, mut keep_alive_token) = (false, false);
    let (mut chunked, mut expect_continue, mut trailers) = (false, false, false);
    for (at, field) in req.headers.iter().enumerate() {
        // Its place among the hop-by-hop fields (`forward::hop_by_hop_index`).
        let (name, hop_by_hop) = names.get(at, field.name.as_bytes()).ok_or(Refusal::bad("invalid field name"))?;
        match hop_by_hop {
            // Connection
            Some(0) => {
                for token in tokens(field.value) {
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            // TE
            Some(4) => trailers = tokens(field.value).any(|t| t.eq_ignore_ascii_case(b"trailers")),
            // Transfer-Encoding
            Some(7) => chunked = true,
            None if name == EXPECT => expect_continue = field.value.trim_ascii().eq_ignore_ascii_case(b"100-continue"),
            _ => {}
        }
        names.keep(name, buf, field.value);
    }
    // The target and the values share the head, split off the read buffer (no copy).
    let head = buf.split_to(len).freeze();
    let uri = Uri::from_maybe_shared(head.slice(target)).map_err(|_| Refusal::bad("invalid request target"))?;
    let headers = names.into_map(&head, 0);
    // One reading of the framing fields, the service's: what it refuses is never read here.
    let body = match check_framing(version, &headers) {
        Err(_) => BodyFraming::Refused,
        Ok(Some(0)) => BodyFraming::None,
        Ok(Some(n)) => BodyFraming::Length(n),
        // `check_framing` let `Transfer-Encoding` through: it is exactly `chunked`.
        Ok(None) if chunked => BodyFraming::Chunked,
        Ok(None) => BodyFraming::None,
    };
    let keep_alive = body != BodyFraming::Refused && !close && (version == Version::HTTP_11 || keep_alive_token);
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = version;
    parts.headers = headers;
    Ok(Some(Head { parts, body, keep_alive, expect_continue: expect_continue && version == Version::HTTP_11, trailers }))
}

fn too_many() -> Refusal {
    Refusal { status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, reason: "too many header fields" }
}

/// The comma-separated tokens of a field value.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(<[u8]>::trim_ascii).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(head: &str) -> Result<Option<Head>, Refusal> {
        parse(&mut BytesMut::from(head.as_bytes()), 100, &mut NameCache::default())
    }

    fn head(text: &str) -> Head {
        parsed(text).expect("refused").expect("incomplete")
    }

    #[test]
    fn a_get_has_no_body_and_keeps_the_connection() {
        let h = head("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
        assert_eq!((h.parts.method, h.parts.uri.to_string(), h.parts.version), (Method::GET, "/a?b=1".to_string(), Version::HTTP_11));
        assert_eq!(h.parts.headers.get("accept").unwrap(), "*/*");
        assert_eq!(h.body, BodyFraming::None);
        assert!(h.keep_alive && !h.expect_continue && !h.trailers);
    }

    #[test]
    fn the_framing_fields_decide_the_body() {
        assert_eq!(head("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").body, BodyFraming::Length(5));
        assert_eq!(head("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").body, BodyFraming::None);
        assert_eq!(head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").body, BodyFraming::Chunked);
        for refused in [
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let h = head(refused);
            assert_eq!(h.body, BodyFraming::Refused, "{refused:?}");
            assert!(!h.keep_alive, "{refused:?}");
        }
    }

    #[test]
    fn connection_fields_and_versions_decide_keep_alive() {
        assert!(!head("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
        let h = head("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nTE: trailers\r\nContent-Length: 1\r\n\r\n");
        assert!(h.expect_continue && h.trailers);
        assert!(!head("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").expect_continue);
    }

    #[test]
    fn heads_share_the_read_buffer_and_keep_their_bytes_when_it_is_reused() {
        // Pipelined heads: each is split off the buffer the next is read into, and a head
        // still held must not see the bytes written there after it.
        let mut buf = BytesMut::with_capacity(64);
        let mut names = NameCache::default();
        buf.extend_from_slice(b"GET /one HTTP/1.1\r\nHost: a.example\r\nX-N: 1\r\n\r\nGET /two HTTP/1.1\r\nHost: b.example\r\n");
        let first = parse(&mut buf, 100, &mut names).unwrap().unwrap();
        assert!(parse(&mut buf, 100, &mut names).unwrap().is_none());
        for round in 0..50 {
            buf.extend_from_slice(format!("X-N: {round}\r\n").as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        let second = parse(&mut buf, 100, &mut names).unwrap().unwrap();
        assert!(buf.is_empty());
        buf.extend_from_slice(b"GET /three HTTP/1.1\r\nHost: c.example\r\n\r\n");
        let third = parse(&mut buf, 100, &mut names).unwrap().unwrap();
        assert_eq!((first.parts.uri.path(), first.parts.headers.get("host").unwrap().as_bytes()), ("/one", &b"a.example"[..]));
        assert_eq!(first.parts.headers.get("x-n").unwrap(), "1");
        assert_eq!((second.parts.uri.path(), second.parts.headers.get("host").unwrap().as_bytes()), ("/two", &b"b.example"[..]));
        assert_eq!(second.parts.headers.get_all("x-n").iter().count(), 50);
        assert_eq!(second.parts.headers.get_all("x-n").iter().next_back().unwrap(), "49");
        assert_eq!((third.parts.uri.path(), third.parts.headers.len()), ("/three", 1));
        // A malformed head between them changes nothing for the next one.
        buf.extend_from_slice(b"GET / HTTP/1.1\r\nA: 1\r\nBad Name: x\r\n\r\n");
        assert!(parse(&mut buf, 100, &mut names).is_err());
        let mut fresh = BytesMut::from(&b"GET / HTTP/1.1\r\nB: 2\r\n\r\n"[..]);
        let next = parse(&mut fresh, 100, &mut names).unwrap().unwrap();
        assert_eq!((next.parts.headers.len(), next.parts.headers.get("b").unwrap().as_bytes()), (1, &b"2"[..]));
    }

    #[test]
    fn incomplete_heads_wait_and_malformed_ones_are_refused() {
        assert!(parsed("GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        for bad in [
            "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
        ] {
            assert_eq!(parsed(bad).err().map(|r| r.status), Some(StatusCode::BAD_REQUEST), "{bad:?}");
        }
        let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
        let r = parsed(&format!("GET / HTTP/1.1\r\n{many}\r\n")).err().unwrap();
        assert_eq!(r.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let r = parse(&mut BytesMut::from(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), 300, &mut NameCache::default());
        assert_eq!(r.unwrap().unwrap().parts.headers.len(), 101);
    }

    #[test]
    fn pipelined_heads_are_consumed_one_at_a_time() {
        let mut buf = BytesMut::from(&b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3"[..]);
        let mut names = NameCache::default();
        assert_eq!(parse(&mut buf, 100, &mut names).unwrap().unwrap().parts.uri, "/1");
        assert_eq!(parse(&mut buf, 100, &mut names).unwrap().unwrap().parts.uri, "/2");
        assert!(parse(&mut buf, 100, &mut names).unwrap().is_none());
        assert_eq!(&buf[..], b"GET /3");
    }
}
