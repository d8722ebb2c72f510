//! HTTP/2 abuse through the real binary: a rapid-reset client (HEADERS then RST_STREAM, over
//! and over, CVE-2023-44487) gets its connection closed with GOAWAY, and the closing is counted
//! in `rampart_h2_abuse_total`. Bounded: at most 20,000 streams or 20 s.

mod common;

use std::time::{Duration, Instant};

use common::{admin_section, config_for, metrics_text, temp_dir, Backend, Rampart};

/// Open and cancel streams until the server closes the connection; the number opened, or
/// `None` if it never did.
async fn rapid_reset(addr: std::net::SocketAddr) -> Option<u64> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let driver = tokio::spawn(conn);
    let started = Instant::now();
    for i in 0..20_000u64 {
        if started.elapsed() > Duration::from_secs(20) {
            break;
        }
        client = match client.ready().await {
            Ok(c) => c,
            Err(_) => return Some(i),
        };
        let req = http::Request::get(format!("http://{addr}/reset/{i}")).body(()).expect("request");
        match client.send_request(req, true) {
            Ok((_response, mut stream)) => stream.send_reset(h2::Reason::CANCEL),
            Err(_) => return Some(i),
        }
        // Let the connection task write the frames out and read the server's.
        tokio::task::yield_now().await;
        if driver.is_finished() {
            return Some(i);
        }
    }
    // The server may still be reading the burst: give it time to answer with GOAWAY.
    match tokio::time::timeout(Duration::from_secs(5), driver).await {
        Ok(_) => Some(20_000),
        Err(_) => None,
    }
}

#[test]
fn a_rapid_reset_client_is_cut_off_and_counted() {
    let backend = Backend::start("h2-abuse");
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    let r = Rampart::start_in(dir, &config_for(&backend, &admin));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let opened = rt.block_on(rapid_reset(r.addrs[0]));
    println!("connection closed after {opened:?} streams");
    assert!(opened.is_some(), "20,000 reset streams and the connection is still open");
    let counted = common::eventually(Duration::from_secs(5), "rampart_h2_abuse_total", || {
        metrics_text(&r).lines().find(|l| l.starts_with("rampart_h2_abuse_total{")).map(str::to_string)
    });
    println!("{counted}");
    // The proxy still serves everyone else.
    assert_eq!(common::client().get(r.url("/")).send().expect("request").status(), 200);
}
