//! WebSocket over HTTP/2 through the binary (RFC 8441): the shield offers the extended
//! CONNECT, turns it into the HTTP/1.1 handshake its upstream takes, and answers the upstream's
//! 101 with the 200 that opens the stream's tunnel; the drain ends these tunnels, and they count
//! against the client's connection caps. (HTTP/1.1 upgrades, and Chromium over HTTP/2:
//! `websocket.rs`.)

mod common;
#[path = "common/ws_upstream.rs"]
mod ws_upstream;

use std::time::Duration;

use common::{metrics_text, Rampart};
use ws_upstream::{shield, wait_tunnels_closed, Answer, Upstream};

/// An HTTP/2 client (the `h2` crate, as a browser would) opening WebSocket streams over one
/// prior-knowledge connection to the shield.
async fn h2_client(rampart: &Rampart) -> h2::client::SendRequest<bytes::Bytes> {
    let tcp = tokio::net::TcpStream::connect(rampart.addrs[0]).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.expect("an HTTP/2 connection");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let client = client.ready().await.expect("ready");
    // The server's SETTINGS (which offer the extended CONNECT) come after the handshake.
    for _ in 0..500 {
        if client.is_extended_connect_protocol_enabled() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client
}

/// An extended CONNECT (RFC 8441 §4) for `path`: the response and the stream's sending half.
async fn h2_websocket(
    client: &mut h2::client::SendRequest<bytes::Bytes>,
    path: &str,
) -> (http::Response<h2::RecvStream>, h2::SendStream<bytes::Bytes>) {
    let mut req = http::Request::builder()
        .method("CONNECT")
        .uri(format!("http://campaign.test{path}"))
        .header("sec-websocket-version", "13")
        .header("sec-websocket-protocol", "chat")
        .body(())
        .unwrap();
    req.extensions_mut().insert(h2::ext::Protocol::from_static("websocket"));
    let (resp, send) = client.send_request(req, false).expect("a stream");
    (resp.await.expect("a response"), send)
}

/// `n` bytes of the stream's data (or what came before it ended or was reset).
async fn h2_read(recv: &mut h2::RecvStream, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        // The end of the stream, or its reset, ends the reading.
        let Some(Ok(chunk)) = tokio::time::timeout(Duration::from_secs(10), recv.data()).await.expect("data in time") else { break };
        let _ = recv.flow_control().release_capacity(chunk.len());
        got.extend_from_slice(&chunk);
    }
    got
}

/// WebSocket over HTTP/2 (RFC 8441): the shield offers the extended CONNECT, turns it into the
/// HTTP/1.1 handshake its upstream takes, answers the upstream's 101 with a 200, and the stream
/// then carries bytes both ways; ending the stream closes the tunnel. A CONNECT for anything
/// else is not offered, and a route that takes no WebSocket gives no tunnel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_over_http2_is_an_extended_connect() {
    let upstream = Upstream::start(Answer::Upgrades);
    let rampart = shield(&upstream, "[[route]]\npath = \"/quiet\"\nupstream = \"app\"\nwebsocket = false\n");
    let mut client = h2_client(&rampart).await;
    assert!(client.is_extended_connect_protocol_enabled(), "SETTINGS_ENABLE_CONNECT_PROTOCOL");

    let (resp, mut send) = h2_websocket(&mut client, "/chat").await;
    assert_eq!(resp.status(), 200, "{resp:?}");
    for hop in ["upgrade", "connection", "sec-websocket-accept"] {
        assert!(resp.headers().get(hop).is_none(), "{hop} in {resp:?}");
    }
    assert!(resp.headers().get("x-request-id").is_some(), "{resp:?}");
    let mut recv = resp.into_body();
    assert_eq!(h2_read(&mut recv, 19).await, b"hello-from-upstream");
    send.send_data(bytes::Bytes::from_static(b"ping-over-h2"), false).unwrap();
    assert_eq!(h2_read(&mut recv, 12).await, b"ping-over-h2");

    let heads = upstream.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let head = &heads[0];
    assert!(head.starts_with("get /chat http/1.1\r\n"), "{head}");
    for line in ["upgrade: websocket", "connection: upgrade", "sec-websocket-version: 13", "sec-websocket-protocol: chat", "host: campaign.test"] {
        assert!(head.contains(&format!("\r\n{line}\r\n")), "{line} not in {head}");
    }
    let key = head.split("\r\n").find_map(|l| l.strip_prefix("sec-websocket-key: ")).expect("a key");
    assert_eq!(key.len(), 24, "16 bytes in base64: {key}");

    // The client ends its stream: the upstream sees the end and closes, and so the stream.
    send.send_data(bytes::Bytes::new(), true).unwrap();
    assert!(h2_read(&mut recv, 1).await.is_empty());
    let rampart = tokio::task::spawn_blocking(move || {
        wait_tunnels_closed(&rampart, 1);
        rampart
    })
    .await
    .unwrap();

    // A plain CONNECT, and one for another protocol: 501, nothing sent on.
    let plain = http::Request::builder().method("CONNECT").uri("campaign.test:443").body(()).unwrap();
    let (resp, _) = client.send_request(plain, false).expect("a stream");
    assert_eq!(resp.await.expect("a response").status(), 501);
    let mut udp = http::Request::builder().method("CONNECT").uri("http://campaign.test/udp").body(()).unwrap();
    udp.extensions_mut().insert(h2::ext::Protocol::from_static("connect-udp"));
    let (resp, _) = client.send_request(udp, false).expect("a stream");
    assert_eq!(resp.await.expect("a response").status(), 501);
    assert_eq!(upstream.heads().len(), 1);

    // A route that takes no WebSocket: the upstream sees a plain GET and answers 200, which to
    // an HTTP/2 CONNECT would open a tunnel to nothing: 502.
    let (resp, _send) = h2_websocket(&mut client, "/quiet").await;
    assert_eq!(resp.status(), 502, "{resp:?}");
    let heads = upstream.heads();
    assert!(heads.len() == 2 && heads[1].starts_with("get /quiet http/1.1\r\n") && !heads[1].contains("\r\nupgrade:"), "{heads:?}");
    // (The test's HTTP client blocks: off the runtime's threads.)
    let metrics = tokio::task::spawn_blocking(move || metrics_text(&rampart)).await.unwrap();
    assert!(metrics.contains("\nrampart_websockets_total 1\n"), "{metrics}");
}

/// A shutdown ends an HTTP/2 stream's tunnel too, and does not wait the drain out for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_closes_http2_tunnels() {
    let upstream = Upstream::start(Answer::Upgrades);
    let mut rampart = shield(&upstream, "");
    let mut client = h2_client(&rampart).await;
    let (resp, _send) = h2_websocket(&mut client, "/chat").await;
    assert_eq!(resp.status(), 200, "{resp:?}");
    let mut recv = resp.into_body();
    assert_eq!(h2_read(&mut recv, 19).await, b"hello-from-upstream");
    let rampart = tokio::task::spawn_blocking(move || {
        rampart.signal("TERM");
        assert_eq!(rampart.wait_exit(Duration::from_secs(10)), Some(0), "{}", rampart.logs().join("\n"));
        rampart
    })
    .await
    .unwrap();
    assert!(!rampart.logs().iter().any(|l| l.contains("drain timeout")), "{}", rampart.logs().join("\n"));
    assert!(h2_read(&mut recv, 1).await.is_empty());
}

/// Tunnels on HTTP/2 streams count against the client's connection caps as HTTP/1.1 tunnels
/// do (a connection each): with `max_connections_per_client = 3`, the connection and two
/// tunnels fill it, a third tunnel is refused (429) before it reaches the upstream, and once a
/// tunnel closes there is room again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_tunnels_count_against_the_clients_connection_cap() {
    let upstream = Upstream::start(Answer::Upgrades);
    let rampart = shield(&upstream, "[limits]\nmax_connections_per_client = 3\n");
    let mut client = h2_client(&rampart).await;
    let (first, mut first_send) = h2_websocket(&mut client, "/chat").await;
    let (second, _second_send) = h2_websocket(&mut client, "/chat").await;
    assert_eq!((first.status(), second.status()), (http::StatusCode::OK, http::StatusCode::OK));
    let (third, _) = h2_websocket(&mut client, "/chat").await;
    assert_eq!(third.status(), 429, "{third:?}");
    assert_eq!(upstream.heads().len(), 2);

    // The first tunnel ends: its place is free again.
    let mut first = first.into_body();
    assert_eq!(h2_read(&mut first, 19).await, b"hello-from-upstream");
    first_send.send_data(bytes::Bytes::new(), true).unwrap();
    assert!(h2_read(&mut first, 1).await.is_empty());
    let mut again = None;
    for _ in 0..100 {
        let (resp, send) = h2_websocket(&mut client, "/chat").await;
        if resp.status() == 200 {
            again = Some((resp, send));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (resp, _send) = again.expect("a tunnel once the first closed");
    assert_eq!(h2_read(&mut resp.into_body(), 19).await, b"hello-from-upstream");
    let logs = tokio::task::spawn_blocking(move || {
        common::wait_json_logs(&rampart, "rampart::access", Duration::from_secs(5), |access| {
            access.iter().any(|l| l["status"] == 429 && l["reason"] == "max_connections_per_client" && l["version"] == "HTTP/2.0")
        })
    })
    .await
    .unwrap();
    assert!(!logs.is_empty());
}
