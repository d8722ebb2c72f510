//! Request smuggling and malformed HTTP/1.1, over raw TCP: every ambiguous or broken request
//! is answered 400 (or the connection is dropped without an answer where hyper drops it), the
//! connection is closed, and nothing reaches the upstream.
//!
//! The cases are a table, walked by one test that reports every failing case at once (as
//! Coraza's operator test data is): one broken case never hides the next.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{config_for, Backend, Rampart};

/// What came back on one connection.
#[derive(Debug)]
struct Exchange {
    response: String,
    /// The peer closed (EOF or reset) before our patience ran out.
    closed: bool,
}

impl Exchange {
    fn status(&self) -> Option<u16> {
        let line = self.response.lines().next()?;
        line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
    }

    fn statuses(&self) -> Vec<u16> {
        self.response
            .match_indices("HTTP/1.")
            .filter_map(|(i, _)| self.response.get(i + 9..i + 12)?.parse().ok())
            .collect()
    }
}

/// Send `request`, then read until the peer closes or `patience` passes.
fn exchange(addr: SocketAddr, request: &[u8], patience: Duration) -> Exchange {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + patience;
    let closed = loop {
        if Instant::now() > deadline {
            break false;
        }
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break true,
        }
    };
    Exchange { response: String::from_utf8_lossy(&out).into_owned(), closed }
}

const PATIENCE: Duration = Duration::from_secs(4);

/// (name, raw request). Each must be refused before the upstream.
const REFUSED: &[(&str, &[u8])] = &[
    ("CL + TE", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("TE + CL", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"),
    ("TE + CL: 0", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n"),
    ("two different CL", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
    ("CL list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello"),
    ("CL +5", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello"),
    ("CL -1", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\nhello"),
    ("CL hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello"),
    ("CL overflow", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\nhello"),
    ("TE chunked, gzip", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
    ("TE gzip, chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
    ("TE xchunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
    ("TE identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"),
    ("two TE fields", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("TE identity then chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("TE space before colon", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n"),
    ("obs-fold TE", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"),
    ("space in header name", b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n"),
    ("empty header name", b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n"),
    ("header without colon", b"GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n"),
    ("bare CR in value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: one\rtwo\r\n\r\n"),
    ("NUL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: one\0two\r\n\r\n"),
    ("NUL in request line", b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("NUL in method", b"G\0T / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("HTTP/1.0 with TE", b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("invalid chunk size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    ("chunk size overflow", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n"),
    ("request line garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"),
    ("request line without version", b"GET /\r\nHost: a\r\n\r\n"),
    ("request line unknown version", b"GET / HTTP/7.1\r\nHost: a\r\n\r\n"),
    ("request line spaces in target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("request line lowercase version", b"GET / http/1.1\r\nHost: a\r\n\r\n"),
];

fn started() -> (Backend, Rampart) {
    let backend = Backend::start("hygiene");
    let rampart = Rampart::start(&config_for(&backend, ""));
    (backend, rampart)
}

/// A control: a correct request reaches the backend, so that "hits did not move" means
/// something.
fn assert_control_reaches_backend(backend: &Backend, addr: SocketAddr) {
    let before = backend.hits();
    let ok = exchange(addr, b"GET /control HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", PATIENCE);
    assert_eq!(ok.status(), Some(200), "control request: {ok:?}");
    assert_eq!(backend.hits(), before + 1, "control request did not reach the backend");
}

#[test]
fn malformed_and_ambiguous_requests_never_reach_the_upstream() {
    let (backend, rampart) = started();
    let addr = rampart.addrs[0];
    assert_control_reaches_backend(&backend, addr);
    let mut failures = Vec::new();
    for (name, request) in REFUSED {
        let before = backend.hits();
        let ex = exchange(addr, request, PATIENCE);
        // Let a request that slipped through finish reaching the backend before counting.
        std::thread::sleep(Duration::from_millis(50));
        let hits = backend.hits() - before;
        let status_ok = ex.response.is_empty() || ex.status() == Some(400);
        if !status_ok || !ex.closed || hits != 0 {
            failures.push(format!(
                "{name}: status {:?} (want 400 or none), closed {}, backend hits {hits}; response: {:?}",
                ex.status(),
                ex.closed,
                ex.response.lines().next().unwrap_or("")
            ));
        }
    }
    assert_control_reaches_backend(&backend, addr);
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), REFUSED.len(), failures.join("\n"));
}

/// httparse accepts bare LF as a line ending (RFC 9112 §2.2 allows a recipient to). Whatever
/// the shield does with it, the upstream must see exactly one well-formed request.
#[test]
fn bare_lf_line_endings_are_one_request_or_none() {
    let (backend, rampart) = started();
    let ex = exchange(rampart.addrs[0], b"GET /lf HTTP/1.1\nHost: a\nConnection: close\n\n", PATIENCE);
    match ex.status() {
        Some(200) => assert_eq!(backend.hits(), 1, "{ex:?}"),
        Some(400) | None => assert_eq!(backend.hits(), 0, "{ex:?}"),
        other => panic!("unexpected status {other:?}: {ex:?}"),
    }
    assert!(ex.closed);
}

/// CL.TE: a front end that believes Content-Length forwards the whole thing, a back end that
/// believes Transfer-Encoding sees `0\r\n\r\n` end the body and the rest as a second request.
#[test]
fn cl_te_smuggling_is_refused_and_the_tail_never_runs() {
    let (backend, rampart) = started();
    let smuggled = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut body = b"0\r\n\r\n".to_vec();
    body.extend_from_slice(smuggled);
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let ex = exchange(rampart.addrs[0], &req, PATIENCE);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(ex.statuses(), vec![400], "{ex:?}");
    assert!(ex.closed, "{ex:?}");
    assert_eq!(backend.hits(), 0, "a request reached the backend: {ex:?}");
}

/// TE.CL: the other way round — the chunk's content is a request for a back end that
/// believes Content-Length: 4.
#[test]
fn te_cl_smuggling_is_refused_and_the_tail_never_runs() {
    let (backend, rampart) = started();
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nx=";
    let req = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{smuggled}\r\n0\r\n\r\nGET /third HTTP/1.1\r\nHost: a\r\n\r\n",
        smuggled.len()
    );
    let ex = exchange(rampart.addrs[0], req.as_bytes(), PATIENCE);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(ex.statuses(), vec![400], "{ex:?}");
    assert!(ex.closed, "{ex:?}");
    assert_eq!(backend.hits(), 0, "a request reached the backend: {ex:?}");
}

/// A request smuggled inside a well-framed body stays a body: the backend sees one request,
/// for `/`, whose body is the would-be second request.
#[test]
fn a_request_inside_a_body_stays_a_body() {
    let (backend, rampart) = started();
    let inner = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let req = format!(
        "POST /outer HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{inner}",
        inner.len()
    );
    let ex = exchange(rampart.addrs[0], req.as_bytes(), PATIENCE);
    assert_eq!(ex.statuses(), vec![200], "{ex:?}");
    assert!(ex.response.contains("\"target\":\"/outer\""), "{ex:?}");
    assert!(ex.response.contains(&format!("\"body_len\":{}", inner.len())), "{ex:?}");
    assert!(!ex.response.contains("/smuggled\""), "{ex:?}");
    assert_eq!(backend.hits(), 1);
}

/// A refused request on a keep-alive connection ends it: a pipelined request behind it is
/// never read, let alone forwarded.
#[test]
fn pipelined_request_behind_a_refused_one_is_dropped() {
    let (backend, rampart) = started();
    let req = b"GET /first HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n";
    let ex = exchange(rampart.addrs[0], req, PATIENCE);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(ex.statuses(), vec![200, 400], "{ex:?}");
    assert!(ex.closed, "{ex:?}");
    assert_eq!(backend.hits(), 1, "only /first may reach the backend: {ex:?}");
}

/// Two identical Content-Length fields are one length (RFC 9110 §8.6 lets a recipient merge
/// them; hyper does): the upstream sees a single field and the five bytes, nothing more.
#[test]
fn identical_content_lengths_reach_the_upstream_as_one() {
    let (backend, rampart) = started();
    let req = b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhelloGET /smuggled HTTP/1.1\r\n\r\n";
    let ex = exchange(rampart.addrs[0], req, PATIENCE);
    match ex.status() {
        Some(400) | None => assert_eq!(backend.hits(), 0, "{ex:?}"),
        Some(200) => {
            assert!(ex.response.contains("\"content-length\":\"5\""), "{ex:?}");
            assert!(ex.response.contains("\"body_len\":5"), "{ex:?}");
            assert_eq!(ex.statuses(), vec![200], "{ex:?}");
            assert_eq!(backend.hits(), 1);
        }
        other => panic!("unexpected status {other:?}: {ex:?}"),
    }
}

/// A broken chunked body is the client's fault: it is answered 400, and it must not count as
/// a failure of the upstream server — or a client could eject healthy servers from the pool
/// (three in a row eject one for ten seconds) and steer all traffic to the rest.
#[test]
fn malformed_bodies_do_not_eject_upstream_servers() {
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let config = format!(
        "[[listener]]\naddress = \"127.0.0.1:0\"\n\n[[upstream]]\nname = \"app\"\nservers = [\"{}\", \"{}\"]\n",
        a.addr, b.addr
    );
    let rampart = Rampart::start(&config);
    let addr = rampart.addrs[0];
    let bad = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    let statuses: Vec<Option<u16>> = (0..5).map(|_| exchange(addr, bad, PATIENCE).status()).collect();
    assert!(statuses.iter().all(|s| matches!(s, Some(400) | None)), "malformed bodies answered {statuses:?}");
    let (a0, b0) = (a.hits(), b.hits());
    for _ in 0..10 {
        let ok = exchange(addr, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", PATIENCE);
        assert_eq!(ok.status(), Some(200), "{ok:?}");
    }
    let (a1, b1) = (a.hits() - a0, b.hits() - b0);
    assert!(a1 >= 3 && b1 >= 3, "round robin skewed after malformed bodies: a got {a1}, b got {b1} of 10");
}
