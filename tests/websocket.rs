//! WebSocket upgrades through the binary: the handshake goes through the stages to the
//! upstream with its upgrade fields, the 101 comes back, and bytes then flow both ways until a
//! side closes. Any other `Upgrade` is not forwarded, a CONNECT is refused, and a 101 nobody
//! asked for is a 502. (Over HTTP/2's extended CONNECT: `websocket_h2.rs`.)

mod common;
#[path = "common/ws_upstream.rs"]
mod ws_upstream;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::{admin_section, config_for_addr, metrics_text, read_response, temp_dir, Rampart};
use ws_upstream::{read_exactly, shield, wait_tunnels_closed, Answer, Upstream, HANDSHAKE};

#[test]
fn a_websocket_is_carried_both_ways_until_a_side_closes() {
    let upstream = Upstream::start(Answer::Upgrades);
    let rampart = shield(&upstream, "");
    let mut ws = TcpStream::connect(rampart.addrs[0]).unwrap();
    ws.write_all(HANDSHAKE).unwrap();
    let resp = read_response(&mut ws, Duration::from_secs(10)).expect("a response to the handshake");
    assert_eq!(resp.status, 101, "{resp:?}");
    assert_eq!(resp.header("upgrade"), Some("websocket"));
    assert_eq!(resp.header("connection"), Some("upgrade"));
    assert_eq!(resp.header("sec-websocket-accept"), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert!(resp.header("x-request-id").is_some(), "{resp:?}");
    assert!(resp.header("content-length").is_none() && resp.header("transfer-encoding").is_none(), "{resp:?}");

    // What the upstream sent with its 101 comes first; then bytes go both ways, small and large.
    assert_eq!(read_exactly(&mut ws, 19), b"hello-from-upstream");
    ws.write_all(b"ping-1").unwrap();
    assert_eq!(read_exactly(&mut ws, 6), b"ping-1");
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    assert!(metrics_text(&rampart).contains("\nrampart_websockets_open 1\n"), "{}", metrics_text(&rampart));
    let mut writer = ws.try_clone().unwrap();
    let sent = blob.clone();
    let writing = std::thread::spawn(move || writer.write_all(&sent).unwrap());
    assert_eq!(read_exactly(&mut ws, blob.len()), blob);
    writing.join().unwrap();

    let heads = upstream.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let head = &heads[0];
    assert!(head.starts_with("get /chat http/1.1\r\n"), "{head}");
    for line in ["upgrade: websocket", "connection: upgrade", "sec-websocket-key: dghlihnhbxbszsbub25jzq==", "sec-websocket-version: 13", "x-forwarded-for: 127.0.0.1", "host: campaign.test"] {
        assert!(head.contains(&format!("\r\n{line}\r\n")), "{line} not in {head}");
    }

    // The client closes its side: the upstream sees the end, closes its own, and so the client's.
    ws.shutdown(Shutdown::Write).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    let end = ws.read_to_end(&mut rest);
    assert!(end.is_ok() && rest.is_empty(), "{end:?} {rest:?}");
    wait_tunnels_closed(&rampart, 1);

    common::wait_json_logs(&rampart, "rampart::access", Duration::from_secs(5), |access| {
        access.iter().any(|l| l["path"] == "/chat" && l["status"] == 101)
    });
}

#[test]
fn any_other_upgrade_is_not_forwarded() {
    let upstream = Upstream::start(Answer::Upgrades);
    let rampart = shield(&upstream, "");
    let mut s = TcpStream::connect(rampart.addrs[0]).unwrap();
    // h2c: the smuggling classic. And a POST asking for websocket, which the RFC does not allow.
    s.write_all(b"GET /admin HTTP/1.1\r\nHost: campaign.test\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n").unwrap();
    let resp = read_response(&mut s, Duration::from_secs(10)).expect("response");
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"plain"[..]));
    s.write_all(b"POST /chat HTTP/1.1\r\nHost: campaign.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 2\r\n\r\nhi").unwrap();
    let resp = read_response(&mut s, Duration::from_secs(10)).expect("response");
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"plain"[..]));
    // CONNECT, a forward proxy's tunnel: not offered, never sent on.
    let mut s = TcpStream::connect(rampart.addrs[0]).unwrap();
    s.write_all(b"CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n").unwrap();
    let resp = read_response(&mut s, Duration::from_secs(10)).expect("response");
    assert_eq!(resp.status, 501, "{resp:?}");
    let heads = upstream.heads();
    assert_eq!(heads.len(), 2, "{heads:?}");
    for head in &heads {
        assert!(!head.contains("\r\nupgrade:") && !head.contains("\r\nhttp2-settings:") && !head.contains("\r\nconnection:"), "{head}");
    }
}

#[test]
fn a_101_nobody_asked_for_is_a_502() {
    let upstream = Upstream::start(Answer::AlwaysSwitches);
    let rampart = shield(&upstream, "");
    let mut s = TcpStream::connect(rampart.addrs[0]).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: campaign.test\r\n\r\n").unwrap();
    let resp = read_response(&mut s, Duration::from_secs(10)).expect("response");
    assert_eq!(resp.status, 502, "{resp:?}");
}

#[test]
fn the_stages_judge_the_handshake() {
    let upstream = Upstream::start(Answer::Upgrades);
    let rampart = shield(
        &upstream,
        "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\nclient_address = \"x-forwarded-for\"\n\n[access]\ndeny = [\"203.0.113.7\"]\n",
    );
    let handshake_from = |client: &str| {
        let mut ws = TcpStream::connect(rampart.addrs[0]).unwrap();
        let head = String::from_utf8_lossy(HANDSHAKE).replace("\r\n\r\n", &format!("\r\nX-Forwarded-For: {client}\r\n\r\n"));
        ws.write_all(head.as_bytes()).unwrap();
        read_response(&mut ws, Duration::from_secs(10)).expect("response").status
    };
    assert_eq!(handshake_from("203.0.113.7"), 403);
    assert!(upstream.heads().is_empty());
    assert_eq!(handshake_from("203.0.113.8"), 101);
    assert_eq!(upstream.heads().len(), 1);
}

/// A shutdown drains: an open tunnel is closed (its client sees the end), not waited for.
#[test]
fn a_shutdown_closes_open_tunnels() {
    let upstream = Upstream::start(Answer::Upgrades);
    let mut rampart = shield(&upstream, "");
    let mut ws = TcpStream::connect(rampart.addrs[0]).unwrap();
    ws.write_all(HANDSHAKE).unwrap();
    assert_eq!(read_response(&mut ws, Duration::from_secs(10)).expect("response").status, 101);
    assert_eq!(read_exactly(&mut ws, 19), b"hello-from-upstream");
    rampart.signal("TERM");
    // Well within the 20 s drain a connection left open would be given.
    assert_eq!(rampart.wait_exit(Duration::from_secs(10)), Some(0), "{}", rampart.logs().join("\n"));
    assert!(!rampart.logs().iter().any(|l| l.contains("drain timeout")), "{}", rampart.logs().join("\n"));
    ws.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    let end = ws.read_to_end(&mut rest);
    assert!(end.is_ok() && rest.is_empty(), "{end:?} {rest:?}");
}

/// A route with `websocket = false` takes no handshake: the upstream sees a plain GET, no
/// tunnel opens; the other routes still take them.
#[test]
fn a_route_can_refuse_websocket() {
    let upstream = Upstream::start(Answer::Upgrades);
    let rampart = shield(&upstream, "[[route]]\npath = \"/chat\"\nupstream = \"app\"\nwebsocket = false\n");
    let mut s = TcpStream::connect(rampart.addrs[0]).unwrap();
    s.write_all(HANDSHAKE).unwrap();
    let resp = read_response(&mut s, Duration::from_secs(10)).expect("response");
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"plain"[..]), "{resp:?}");
    let heads = upstream.heads();
    assert!(heads[0].starts_with("get /chat ") && !heads[0].contains("\r\nupgrade:") && !heads[0].contains("\r\nconnection:"), "{heads:?}");

    let mut ws = TcpStream::connect(rampart.addrs[0]).unwrap();
    ws.write_all(&String::from_utf8_lossy(HANDSHAKE).replacen("/chat", "/live", 1).into_bytes()).unwrap();
    assert_eq!(read_response(&mut ws, Duration::from_secs(10)).expect("response").status, 101);
    assert_eq!(read_exactly(&mut ws, 19), b"hello-from-upstream");
    assert!(metrics_text(&rampart).contains("\nrampart_websockets_total 1\n"), "{}", metrics_text(&rampart));
}

/// An open tunnel is idle by `tunnel_idle_timeout`, not the connection's `idle_timeout`: it
/// outlives the latter in silence, and is closed once the former passes with no byte.
#[test]
fn a_quiet_tunnel_lives_by_its_own_idle_timeout() {
    let upstream = Upstream::start(Answer::Upgrades);
    let rampart = shield(&upstream, "[limits]\nidle_timeout = \"1s\"\ntunnel_idle_timeout = \"4s\"\n");
    // A kept-alive connection is still closed after 1 s without a request.
    let mut plain = TcpStream::connect(rampart.addrs[0]).unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\nHost: campaign.test\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut plain, Duration::from_secs(10)).expect("response").status, 200);
    let began = std::time::Instant::now();
    plain.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(plain.read(&mut [0u8; 16]).ok(), Some(0));
    assert!(began.elapsed() < Duration::from_secs(3), "closed after {:?}", began.elapsed());

    let mut ws = TcpStream::connect(rampart.addrs[0]).unwrap();
    ws.write_all(HANDSHAKE).unwrap();
    assert_eq!(read_response(&mut ws, Duration::from_secs(10)).expect("response").status, 101);
    assert_eq!(read_exactly(&mut ws, 19), b"hello-from-upstream");
    // Silent for well past the connection's idle timeout: still open.
    std::thread::sleep(Duration::from_millis(2500));
    ws.write_all(b"still-here").unwrap();
    assert_eq!(read_exactly(&mut ws, 10), b"still-here");
    // Then silent for good: closed about 4 s after the last byte.
    let last = std::time::Instant::now();
    ws.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut rest = Vec::new();
    let end = ws.read_to_end(&mut rest);
    let after = last.elapsed();
    assert!(end.is_ok() && rest.is_empty(), "{end:?} {rest:?}");
    assert!(after >= Duration::from_millis(3500) && after < Duration::from_secs(10), "closed after {after:?}");
    wait_tunnels_closed(&rampart, 1);
}

/// A WebSocket upstream a browser can talk to: `GET /` is a page, `GET /ws` a WebSocket
/// (RFC 6455: the accept key, a text greeting, then every frame echoed unmasked, a close
/// answered with a close). Permessage-deflate, which Chromium offers, is not taken.
fn websocket_app() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve_websocket_app(stream));
        }
    });
    addr
}

fn serve_websocket_app(mut s: TcpStream) {
    use base64::Engine;
    use sha1::Digest;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    loop {
        // The head as sent (the key is case-sensitive).
        let Some(head) = common::read_head_bytes(&mut s) else { return };
        let head = String::from_utf8_lossy(&head).into_owned();
        let key = head.lines().find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-key")).map(|(_, v)| v.trim().to_string()));
        let Some(key) = key else {
            let page = "<!doctype html><title>chat</title><p>campaign chat</p>";
            let ok = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{page}", page.len());
            if s.write_all(ok.as_bytes()).is_err() {
                return;
            }
            continue;
        };
        let accept = base64::engine::general_purpose::STANDARD
            .encode(sha1::Sha1::digest(format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes()));
        let switch = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
        let greeting = b"welcome";
        let mut out = switch.into_bytes();
        out.extend_from_slice(&[0x81, greeting.len() as u8]);
        out.extend_from_slice(greeting);
        if s.write_all(&out).is_err() {
            return;
        }
        // Frames: echo each with its own first byte (FIN, opcode), unmasked.
        loop {
            let mut h = [0u8; 2];
            if s.read_exact(&mut h).is_err() {
                return;
            }
            let mut len = u64::from(h[1] & 0x7f);
            if len == 126 {
                let mut l = [0u8; 2];
                s.read_exact(&mut l).unwrap();
                len = u64::from(u16::from_be_bytes(l));
            } else if len == 127 {
                let mut l = [0u8; 8];
                s.read_exact(&mut l).unwrap();
                len = u64::from_be_bytes(l);
            }
            let mut mask = [0u8; 4];
            if h[1] & 0x80 != 0 {
                s.read_exact(&mut mask).unwrap();
            }
            let mut payload = vec![0u8; len as usize];
            s.read_exact(&mut payload).unwrap();
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
            let mut frame = vec![h[0]];
            match payload.len() {
                n if n < 126 => frame.push(n as u8),
                n if n <= 0xffff => {
                    frame.push(126);
                    frame.extend_from_slice(&(n as u16).to_be_bytes());
                }
                n => {
                    frame.push(127);
                    frame.extend_from_slice(&(n as u64).to_be_bytes());
                }
            }
            frame.extend_from_slice(&payload);
            if s.write_all(&frame).is_err() || h[0] & 0x0f == 0x8 {
                return;
            }
        }
    }
}

/// `tests/browser/websocket.mjs` on the page at `url`: its JSON line, checked.
fn browser_websocket(url: &str) -> serde_json::Value {
    let browser = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(browser.join("node_modules/playwright-core").exists(), "scripts/test.sh installs playwright-core (npm ci in tests/browser)");
    let run = std::process::Command::new("node")
        .arg("websocket.mjs")
        .arg(url)
        .current_dir(&browser)
        .output()
        .expect("node (scripts/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "browser run failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(line["greeting"], "welcome", "{line}");
    assert_eq!(line["echo"], "hello through the shield", "{line}");
    assert_eq!((line["bigLength"].as_u64(), line["bigSame"].as_bool()), (Some(70_000), Some(true)), "{line}");
    assert_eq!(line["closeCode"], 1000, "{line}");
    line
}

/// Chromium opens a WebSocket to a page's own host through the shield, and it works: greeting,
/// echoes (one over 64 KiB), a clean close.
#[test]
fn a_browser_talks_websocket_through_the_shield() {
    let app = websocket_app();
    let upstream = Upstream { addr: app, heads: Arc::default() };
    let rampart = shield(&upstream, "");
    browser_websocket(&rampart.url("/"));
    wait_tunnels_closed(&rampart, 1);
}

/// Over https, Chromium finds the extended CONNECT offered on its HTTP/2 connection and opens
/// the WebSocket on a stream of it (RFC 8441): the access log shows the handshake as HTTP/2.
#[test]
fn a_browser_talks_websocket_over_http2() {
    let app = websocket_app();
    let dir = temp_dir();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    common::write_file(dir.path(), "site.pem", &cert.pem());
    common::write_file(dir.path(), "site.key", &key.serialize_pem());
    let admin = admin_section(dir.path());
    let config = config_for_addr(app, &admin).replace(
        "address = \"127.0.0.1:0\"\n",
        "address = \"127.0.0.1:0\"\ntls = { cert = \"site.pem\", key = \"site.key\" }\n",
    );
    let rampart = Rampart::start_in(dir, &config);
    browser_websocket(&format!("https://{}/", rampart.addrs[0]));
    wait_tunnels_closed(&rampart, 1);
    common::wait_json_logs(&rampart, "rampart::access", Duration::from_secs(5), |access| {
        access.iter().any(|l| l["path"] == "/ws" && l["method"] == "GET" && l["version"] == "HTTP/2.0" && l["status"] == 101)
    });
}

/// Over TLS (wss://): the same handshake and bytes both ways, on a listener that offers
/// HTTP/2 by ALPN to a client that asks for HTTP/1.1.
#[tokio::test]
async fn a_websocket_over_tls_is_carried_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::{self, pki_types};

    let upstream = Upstream::start(Answer::Upgrades);
    let dir = temp_dir();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["chat.test".to_string()]).unwrap().self_signed(&key).unwrap();
    common::write_file(dir.path(), "chat.pem", &cert.pem());
    common::write_file(dir.path(), "chat.key", &key.serialize_pem());
    let config = config_for_addr(upstream.addr, "").replace(
        "address = \"127.0.0.1:0\"\n",
        "address = \"127.0.0.1:0\"\ntls = { cert = \"chat.pem\", key = \"chat.key\" }\n",
    );
    let rampart = Rampart::start_in(dir, &config);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki_types::CertificateDer::from(cert.der().to_vec())).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(rampart.addrs[0]).await.unwrap();
    let name = pki_types::ServerName::try_from("chat.test").unwrap();
    let mut ws = tokio_rustls::TlsConnector::from(Arc::new(tls)).connect(name, tcp).await.unwrap();

    ws.write_all(HANDSHAKE).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let expected_tail = b"hello-from-upstream";
    while !got.windows(expected_tail.len()).any(|w| w == expected_tail) {
        let n = tokio::time::timeout_at(deadline, ws.read(&mut buf)).await.expect("101 and greeting in 10 s").unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 101 "), "{text}");
    assert!(text.contains("\r\nupgrade: websocket\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhello-from-upstream"), "{text}");
    ws.write_all(b"over tls").await.unwrap();
    let mut echo = [0u8; 8];
    tokio::time::timeout(Duration::from_secs(10), ws.read_exact(&mut echo)).await.expect("echo in 10 s").unwrap();
    assert_eq!(&echo, b"over tls");
    let head = upstream.heads().pop().expect("the handshake reached the upstream");
    assert!(head.contains("\r\nx-forwarded-proto: https\r\n") && head.contains("\r\nupgrade: websocket\r\n"), "{head}");
}

/// Least-connections balancing counts an open tunnel against its server until it closes: with
/// one socket open on one server, plain requests go to the other.
#[test]
fn an_open_tunnel_keeps_its_server_busy_for_least_connections() {
    let (a, b) = (Upstream::start(Answer::Upgrades), Upstream::start(Answer::Upgrades));
    let config = config_for_addr(a.addr, "").replace(
        &format!("servers = [\"{}\"]", a.addr),
        &format!("servers = [\"{}\", \"{}\"]\nbalance = \"least_conn\"", a.addr, b.addr),
    );
    let rampart = Rampart::start(&config);
    let mut ws = TcpStream::connect(rampart.addrs[0]).unwrap();
    ws.write_all(HANDSHAKE).unwrap();
    assert_eq!(read_response(&mut ws, Duration::from_secs(10)).expect("response").status, 101);
    assert_eq!(read_exactly(&mut ws, 19), b"hello-from-upstream");
    let (tunnelled, other) = if a.heads().len() == 1 { (&a, &b) } else { (&b, &a) };
    assert_eq!((tunnelled.heads().len(), other.heads().len()), (1, 0));

    let mut s = TcpStream::connect(rampart.addrs[0]).unwrap();
    for _ in 0..10 {
        s.write_all(b"GET / HTTP/1.1\r\nHost: campaign.test\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut s, Duration::from_secs(10)).expect("response").status, 200);
    }
    // Without the tunnel counted, ties between two idle servers alternate: five each.
    assert_eq!((tunnelled.heads().len(), other.heads().len()), (1, 10));
}
