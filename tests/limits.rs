//! `[limits]` with small values against the real binary: an over-long request line is 414,
//! too many or too large headers 431, a declared body over `max_body` 413 before a byte of it
//! is read, and a chunked body that grows past `max_body` never reaches the upstream whole.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use common::{config_for, Backend, Rampart};

const MAX_BODY: usize = 16 * 1024;

const LIMITS: &str = r#"
[limits]
max_request_line = "1KiB"
max_header_bytes = "4KiB"
max_headers = 20
max_body = "16KiB"
"#;

/// An upstream that records the length of every request body it received *completely*
/// (a body that was cut off mid-way is not a request the application would act on).
struct Ledger {
    addr: SocketAddr,
    heads: Arc<Mutex<usize>>,
    complete_bodies: Arc<Mutex<Vec<usize>>>,
    _thread: std::thread::JoinHandle<()>,
}

impl Ledger {
    fn start() -> Ledger {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let heads = Arc::new(Mutex::new(0));
        let complete_bodies = Arc::new(Mutex::new(Vec::new()));
        let (h, c) = (Arc::clone(&heads), Arc::clone(&complete_bodies));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                while let Ok((stream, _)) = listener.accept().await {
                    let (h, c) = (Arc::clone(&h), Arc::clone(&c));
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let (h, c) = (Arc::clone(&h), Arc::clone(&c));
                            async move {
                                *h.lock().unwrap() += 1;
                                let len = match req.into_body().collect().await {
                                    Ok(b) => {
                                        let n = b.to_bytes().len();
                                        c.lock().unwrap().push(n);
                                        n as i64
                                    }
                                    Err(_) => -1,
                                };
                                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                                    format!("{{\"body_len\":{len}}}"),
                                ))))
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                    });
                }
            });
        });
        Ledger { addr, heads, complete_bodies, _thread: thread }
    }

    fn complete_bodies(&self) -> Vec<usize> {
        self.complete_bodies.lock().unwrap().clone()
    }
}

/// `config_for` wants a [`Backend`]; the ledger only needs its address in the same shape.
fn config_for_addr(addr: SocketAddr, extra: &str) -> String {
    format!("[[listener]]\naddress = \"127.0.0.1:0\"\n\n[[upstream]]\nname = \"app\"\nservers = [\"{addr}\"]\n\n{extra}\n")
}

/// Send `request` and read until the peer closes or `patience` passes. Returns the response
/// and whether the peer closed.
fn exchange(addr: SocketAddr, request: &[u8], patience: Duration) -> (String, bool) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let _ = s.write_all(request);
    read_until_close(&mut s, patience)
}

fn read_until_close(s: &mut TcpStream, patience: Duration) -> (String, bool) {
    s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let deadline = Instant::now() + patience;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
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
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

fn status(resp: &str) -> Option<u16> {
    resp.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

const PATIENCE: Duration = Duration::from_secs(4);

#[test]
fn request_line_over_the_limit_is_414_and_under_it_is_served() {
    let backend = Backend::start("limits");
    let rampart = Rampart::start(&config_for(&backend, LIMITS));
    let addr = rampart.addrs[0];
    // 2 KiB of target: over the 1 KiB line, under the 4 KiB head.
    let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(2048));
    let (resp, closed) = exchange(addr, long.as_bytes(), PATIENCE);
    assert_eq!(status(&resp), Some(414), "{resp}");
    assert!(closed);
    // Far over both: still 414 or 431, never the upstream.
    let huge = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(100_000));
    let (resp, closed) = exchange(addr, huge.as_bytes(), PATIENCE);
    assert!(matches!(status(&resp), Some(414 | 431)), "{resp}");
    assert!(closed);
    assert_eq!(backend.hits(), 0);
    let fits = format!("GET /{} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "a".repeat(900));
    let (resp, _) = exchange(addr, fits.as_bytes(), PATIENCE);
    assert_eq!(status(&resp), Some(200), "{resp}");
    assert_eq!(backend.hits(), 1);
}

#[test]
fn more_headers_than_max_headers_is_431() {
    let backend = Backend::start("limits");
    let rampart = Rampart::start(&config_for(&backend, LIMITS));
    let many: String = (0..25).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (resp, closed) = exchange(rampart.addrs[0], format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes(), PATIENCE);
    assert_eq!(status(&resp), Some(431), "{resp}");
    assert!(closed);
    // 19 fields (with Host and Connection: 21 would be over) are fine.
    let some: String = (0..17).map(|i| format!("X-H{i}: v\r\n")).collect();
    let req = format!("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n{some}\r\n");
    let (resp, _) = exchange(rampart.addrs[0], req.as_bytes(), PATIENCE);
    assert_eq!(status(&resp), Some(200), "{resp}");
    assert_eq!(backend.hits(), 1);
}

#[test]
fn header_block_over_max_header_bytes_is_431() {
    let backend = Backend::start("limits");
    let rampart = Rampart::start(&config_for(&backend, LIMITS));
    let addr = rampart.addrs[0];
    // 6 KiB in a handful of fields: over the 4 KiB limit, under hyper's 8 KiB buffer floor.
    let fields: String = (0..6).map(|i| format!("X-Pad{i}: {}\r\n", "p".repeat(1024))).collect();
    let (resp, closed) = exchange(addr, format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n").as_bytes(), PATIENCE);
    assert_eq!(status(&resp), Some(431), "6 KiB head: {resp}");
    assert!(closed);
    // 40 KiB in one field.
    let one = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n", "b".repeat(40 * 1024));
    let (resp, closed) = exchange(addr, one.as_bytes(), PATIENCE);
    assert_eq!(status(&resp), Some(431), "40 KiB head: {resp}");
    assert!(closed);
    assert_eq!(backend.hits(), 0);
}

#[test]
fn declared_body_over_max_body_is_413_before_the_body_is_sent() {
    let backend = Backend::start("limits");
    let rampart = Rampart::start(&config_for(&backend, LIMITS));
    // The head alone: the answer must not wait for the 1 MiB it announces.
    let started = Instant::now();
    let (resp, closed) =
        exchange(rampart.addrs[0], b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n", PATIENCE);
    assert_eq!(status(&resp), Some(413), "{resp}");
    assert!(closed, "connection left open after 413");
    assert!(started.elapsed() < Duration::from_secs(3), "413 took {:?}", started.elapsed());
    assert_eq!(backend.hits(), 0);
    // Exactly the cap is fine.
    let mut ok = format!("POST /upload HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: {MAX_BODY}\r\n\r\n").into_bytes();
    ok.extend(vec![b'x'; MAX_BODY]);
    let (resp, _) = exchange(rampart.addrs[0], &ok, PATIENCE);
    assert_eq!(status(&resp), Some(200), "{resp}");
    assert!(resp.contains(&format!("\"body_len\":{MAX_BODY}")), "{resp}");
}

#[test]
fn chunked_body_growing_past_max_body_never_reaches_the_upstream_whole() {
    let ledger = Ledger::start();
    let rampart = Rampart::start(&config_for_addr(ledger.addr, LIMITS));
    let mut s = TcpStream::connect(rampart.addrs[0]).expect("connect");
    s.write_all(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").expect("head");
    let chunk = format!("1000\r\n{}\r\n", "c".repeat(4096));
    // 64 KiB in 4 KiB chunks, four times the cap; the shield may cut us off part-way.
    let mut sent = 0;
    for _ in 0..16 {
        if s.write_all(chunk.as_bytes()).is_err() {
            break;
        }
        sent += 4096;
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let (resp, closed) = read_until_close(&mut s, PATIENCE);
    assert!(resp.is_empty() || status(&resp) == Some(413), "sent {sent} bytes, got: {resp}");
    assert!(closed, "connection left open");
    std::thread::sleep(Duration::from_millis(300));
    let bodies = ledger.complete_bodies();
    assert!(bodies.iter().all(|&n| n <= MAX_BODY), "upstream received complete bodies {bodies:?} over the {MAX_BODY} cap");
    assert!(bodies.is_empty(), "a cut-off body reached the upstream as complete: {bodies:?}");
    // The ledger itself works: a small chunked body arrives whole.
    let small = b"POST /small HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let (resp, _) = exchange(rampart.addrs[0], small, PATIENCE);
    assert_eq!(status(&resp), Some(200), "{resp}");
    assert_eq!(ledger.complete_bodies(), vec![5]);
    assert!(*ledger.heads.lock().unwrap() >= 1);
}
