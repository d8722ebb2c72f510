//! The shield's own HTTP/1.1 server connection, through the real binary: keep-alive and its
//! end, pipelining, request bodies by length and chunked, `Expect: 100-continue`, HEAD, and
//! the heads it answers itself.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{config_for, read_response, Backend, Rampart};

const PATIENCE: Duration = Duration::from_secs(5);

fn connect(rampart: &Rampart) -> TcpStream {
    let s = TcpStream::connect(rampart.addrs[0]).expect("connect");
    s.set_nodelay(true).unwrap();
    s
}

/// Whether the peer closes the connection within `patience` (reads what comes until then).
fn closes(s: &mut TcpStream, patience: Duration) -> bool {
    s.set_read_timeout(Some(patience)).unwrap();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn keep_alive_carries_requests_and_pipelined_ones_are_answered_in_order() {
    let backend = Backend::start("a");
    let rampart = Rampart::start(&config_for(&backend, ""));
    let mut s = connect(&rampart);
    // Three requests in one write: three answers, in order, on the same connection.
    let pipelined = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    s.write_all(pipelined).unwrap();
    for n in 1..=3 {
        let r = read_response(&mut s, PATIENCE).unwrap_or_else(|| panic!("no answer to request {n}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["target"], format!("/{n}"));
        assert!(r.header("date").is_some_and(|d| d.ends_with(" GMT")), "{r:?}");
        assert!(r.header("connection").is_none(), "{r:?}");
    }
    // And one more after a pause.
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").unwrap();
    let r = read_response(&mut s, PATIENCE).expect("no answer to request 4");
    assert_eq!(r.json()["target"], "/4");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closes(&mut s, PATIENCE), "the connection stayed open after Connection: close");
    assert_eq!(backend.hits(), 4);
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let backend = Backend::start("a");
    let rampart = Rampart::start(&config_for(&backend, ""));
    let mut s = connect(&rampart);
    s.write_all(b"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
    let r = read_response(&mut s, PATIENCE).expect("no answer");
    assert_eq!((r.status, r.header("connection")), (200, Some("keep-alive")), "{r:?}");
    s.write_all(b"GET /c HTTP/1.0\r\n\r\n").unwrap();
    let r = read_response(&mut s, PATIENCE).expect("no second answer");
    assert_eq!(r.json()["target"], "/c");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closes(&mut s, PATIENCE));
}

#[test]
fn request_bodies_by_length_and_chunked_reach_the_upstream_whole() {
    let backend = Backend::start("a");
    let rampart = Rampart::start(&config_for(&backend, ""));
    let mut s = connect(&rampart);
    s.write_all(b"POST /len HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b" world").unwrap();
    let r = read_response(&mut s, PATIENCE).expect("no answer to the POST");
    assert_eq!((r.status, r.json()["body_len"].as_u64()), (200, Some(11)), "{r:?}");
    // Chunked, split across writes, with an extension and trailers.
    s.write_all(b"POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r\nwiki\r\n5\r\npe").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"dia\r\n0\r\nX-Sum: 9\r\n\r\n").unwrap();
    let r = read_response(&mut s, PATIENCE).expect("no answer to the chunked POST");
    assert_eq!((r.status, r.json()["body_len"].as_u64()), (200, Some(9)), "{r:?}");
    // The connection carries on.
    s.write_all(&common::get_request("/after", &[])).unwrap();
    assert_eq!(read_response(&mut s, PATIENCE).expect("no answer after the bodies").json()["target"], "/after");
    assert_eq!(backend.hits(), 3);
}

#[test]
fn a_client_expecting_100_continue_gets_its_go_ahead_before_it_sends_the_body() {
    let backend = Backend::start("a");
    let rampart = Rampart::start(&config_for(&backend, ""));
    let mut s = connect(&rampart);
    s.write_all(b"POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n").unwrap();
    let go = read_response(&mut s, PATIENCE).expect("no 100 Continue");
    assert_eq!(go.status, 100);
    s.write_all(b"data").unwrap();
    let r = read_response(&mut s, PATIENCE).expect("no final answer");
    assert_eq!((r.status, r.json()["body_len"].as_u64()), (200, Some(4)), "{r:?}");
}

#[test]
fn a_head_request_gets_the_length_without_the_body() {
    let backend = Backend::start("a");
    let rampart = Rampart::start(&config_for(&backend, ""));
    let mut s = connect(&rampart);
    s.write_all(b"HEAD /h HTTP/1.1\r\nHost: a\r\n\r\nGET /g HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    // Read the HEAD response's head alone: a body after it would be read as the next response.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("HEAD response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.contains("content-length: "), "{head}");
    let r = read_response(&mut s, PATIENCE).expect("no answer to the GET after the HEAD");
    assert_eq!(r.json()["target"], "/g", "the HEAD response carried a body");
}

#[test]
fn heads_the_connection_refuses_are_answered_with_a_page_and_closed() {
    let backend = Backend::start("a");
    let rampart = Rampart::start(&config_for(&backend, "[limits]\nmax_header_bytes = \"2KiB\"\nmax_request_line = \"1KiB\"\n"));
    for (request, status) in [
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n".to_vec(), 400),
        (format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(4096)).into_bytes(), 431),
    ] {
        let mut s = connect(&rampart);
        s.write_all(&request).unwrap();
        let r = read_response(&mut s, PATIENCE).expect("no answer");
        assert_eq!(r.status, status, "{r:?}");
        assert_eq!(r.header("connection"), Some("close"));
        assert!(r.header("x-request-id").is_some(), "the page names no request id: {r:?}");
        assert!(closes(&mut s, PATIENCE));
    }
    assert_eq!(backend.hits(), 0);
}
