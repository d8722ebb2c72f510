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

/// HTTP/2 frames by hand: a 9-byte header (length, type, flags, stream) and the payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// What a flood got: how many repeated frames were written before the server closed the
/// connection (`None`: it never did), and how many PING and SETTINGS acknowledgements it sent.
struct Flooded {
    sent: Option<u64>,
    ping_acks: u64,
    settings_acks: u64,
}

/// Send the preface and wait until the server has acknowledged its SETTINGS (so the reader is
/// known to see the server's frames before the flood can get the connection reset), then send
/// `opening` once and `repeated` over and over (at most 200,000 times or 20 s, ten a
/// millisecond), reading and parsing whatever comes back, until the server closes the connection.
async fn flood(addr: std::net::SocketAddr, opening: &[u8], repeated: &[u8]) -> Flooded {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = tcp.into_split();
    // The server's frames, header by header: count the acknowledgements it sent.
    let (ping_acks, settings_acks) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let reader = tokio::spawn({
        let (ping_acks, settings_acks) = (ping_acks.clone(), settings_acks.clone());
        async move {
            let mut stream = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => stream.extend_from_slice(&buf[..n]),
                }
                while stream.len() >= 9 {
                    let len = u32::from_be_bytes([0, stream[0], stream[1], stream[2]]) as usize;
                    if stream.len() < 9 + len {
                        break;
                    }
                    match (stream[3], stream[4] & 1) {
                        (0x6, 1) => ping_acks.fetch_add(1, Relaxed),
                        (0x4, 1) => settings_acks.fetch_add(1, Relaxed),
                        _ => 0,
                    };
                    stream.drain(..9 + len);
                }
            }
        }
    });
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend(frame(0x4, 0, 0, &[]));
    let mut sent = None;
    if wr.write_all(&preface).await.is_ok() {
        let acked = Instant::now();
        while settings_acks.load(Relaxed) == 0 && !reader.is_finished() && acked.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(settings_acks.load(Relaxed) >= 1, "the server never acknowledged the preface's SETTINGS");
    }
    if wr.write_all(opening).await.is_ok() {
        // Ten frames a millisecond: a steady flood the reader keeps up with.
        let batch: Vec<u8> = repeated.repeat(10);
        let started = Instant::now();
        let mut n = 0u64;
        while n < 200_000 && started.elapsed() < Duration::from_secs(20) {
            if reader.is_finished() {
                sent = Some(n);
                break;
            }
            match tokio::time::timeout(Duration::from_secs(5), wr.write_all(&batch)).await {
                Ok(Ok(())) => {
                    n += 10;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Ok(Err(_)) => {
                    sent = Some(n);
                    break;
                }
                Err(_) => break, // the server stopped reading: see below whether it closes
            }
        }
        sent = sent.or(Some(n));
    } else {
        sent = Some(0);
    }
    match tokio::time::timeout(Duration::from_secs(5), reader).await {
        Ok(Ok(())) => Flooded { sent, ping_acks: ping_acks.load(Relaxed), settings_acks: settings_acks.load(Relaxed) },
        _ => Flooded { sent: None, ping_acks: 0, settings_acks: 0 },
    }
}

/// A PING flood, a SETTINGS flood (the shield's frame guard) and a CONTINUATION flood (h2's own
/// bound) each get their connection closed and counted by kind, while an ordinary HTTP/2 client is served before and after.
#[test]
fn control_frame_floods_are_cut_off_and_counted_by_kind() {
    let backend = Backend::start("h2-floods");
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    let r = Rampart::start_in(dir, &config_for(&backend, &admin));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let addr = r.addrs[0];
    let ordinary = |path: &'static str| {
        rt.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
            tokio::spawn(conn);
            let mut client = client.ready().await.expect("ready");
            // A large header block (a 20 KiB cookie) spans CONTINUATION frames legitimately.
            let req = http::Request::get(format!("http://{addr}{path}")).header("cookie", "c=".to_string() + &"x".repeat(20_000)).body(()).expect("request");
            let (resp, _) = client.send_request(req, true).expect("send");
            resp.await.expect("response").status()
        })
    };
    assert_eq!(ordinary("/before"), 200);

    let ping = frame(0x6, 0, 0, &[7; 8]);
    let settings = frame(0x4, 0, 0, &[0, 3, 0, 0, 0, 100]);
    // A HEADERS frame without END_HEADERS, then empty CONTINUATION frames without end.
    let headers = frame(0x1, 0, 1, &[0x82, 0x86, 0x84]);
    let continuation = frame(0x9, 0, 1, &[]);
    for (kind, opening, repeated) in
        [("ping_flood", &[][..], &ping), ("settings_flood", &[][..], &settings), ("continuation_flood", &headers[..], &continuation)]
    {
        let got = rt.block_on(flood(addr, opening, repeated));
        println!("{kind}: connection closed after {:?} frames written, {} PING and {} SETTINGS acknowledged", got.sent, got.ping_acks, got.settings_acks);
        let sent = got.sent.unwrap_or_else(|| panic!("{kind}: 200,000 frames and the connection is still open"));
        assert!(sent < 2_000, "{kind}: cut only after {sent} frames");
        // The budgets are 100 a connection per 10 s; the first SETTINGS is the preface's, which
        // `flood` waited for, so the reader is known to count what the server answered.
        assert!(got.settings_acks >= 1, "{kind}: the reader saw the server's answers");
        assert!(got.ping_acks <= 100, "{kind}: {} pings answered", got.ping_acks);
        assert!(got.settings_acks <= 101, "{kind}: {} settings answered", got.settings_acks);
        let line = common::eventually(Duration::from_secs(5), kind, || {
            metrics_text(&r).lines().find(|l| l.starts_with("rampart_h2_abuse_total{") && l.contains(kind)).map(str::to_string)
        });
        println!("{line}");
    }
    assert_eq!(ordinary("/after"), 200, "the proxy still serves everyone else");
}
