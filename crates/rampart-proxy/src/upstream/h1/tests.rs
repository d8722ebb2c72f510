//! The HTTP/1.1 client connection against scripted servers on loopback: what it writes, and
//! how it reads what they answer (framing, interim responses, trailers, malformed heads).

use super::*;
use http::{HeaderMap, Request};
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server for one connection: reads until what it received ends with `until`, then writes
/// `answer` a piece at a time (`pieces` bytes each, to split heads and chunks across reads),
/// then closes if `close`. Returns what it received.
async fn scripted(until: &'static [u8], answer: &'static [u8], pieces: usize, close: bool) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(until) {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        for piece in answer.chunks(pieces.max(1)) {
            s.write_all(piece).await.unwrap();
            s.flush().await.unwrap();
            if pieces < answer.len() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        if !close {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        got
    });
    (addr, task)
}

async fn connect(addr: SocketAddr) -> Connection {
    Connection::new(TcpStream::connect(addr).await.unwrap())
}

async fn send(conn: &mut Connection, req: Request<ProxyBody>) -> Result<Head, Error> {
    let (parts, mut body) = req.into_parts();
    conn.exchange(&parts, None, &mut body, "127.0.0.1:1".parse().unwrap()).await
}

fn get(path: &str) -> Request<ProxyBody> {
    Request::get(path).header("host", "app").body(crate::body::full(Bytes::new())).unwrap()
}

/// The whole body: data, and trailers if any.
async fn read_body(conn: &mut Connection, framing: Framing) -> Result<(Vec<u8>, Option<HeaderMap>), Error> {
    let mut state = BodyState::new(framing);
    let (mut data, mut trailers) = (Vec::new(), None);
    while let Some(frame) = std::future::poll_fn(|cx| conn.poll_body(&mut state, cx)).await {
        match frame?.into_data() {
            Ok(d) => data.extend_from_slice(&d),
            Err(f) => trailers = f.into_trailers().ok(),
        }
    }
    Ok((data, trailers))
}

#[tokio::test]
async fn a_get_is_one_head_and_its_response_is_read_by_its_length() {
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello", 4, false).await;
    let mut conn = connect(addr).await;
    let head = send(&mut conn, get("/a?b=c")).await.unwrap();
    assert_eq!(head.response.status(), StatusCode::OK);
    assert_eq!(head.response.headers()["x-a"], "1");
    assert_eq!(head.framing, Framing::Length(5));
    assert!(head.reusable);
    assert_eq!(read_body(&mut conn, head.framing).await.unwrap().0, b"hello");
    assert!(!conn.has_leftover());
    assert!(conn.is_usable());
    server.abort();
    let _ = server.await;
}

#[tokio::test]
async fn the_request_head_is_written_as_given_in_origin_form() {
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n", 64, true).await;
    let mut conn = connect(addr).await;
    let req = Request::get("/p?q=1").header("host", "app").header("x-b", "2").body(crate::body::full(Bytes::new())).unwrap();
    let head = send(&mut conn, req).await.unwrap();
    assert_eq!(head.framing, Framing::Empty);
    assert_eq!(server.await.unwrap(), b"GET /p?q=1 HTTP/1.1\r\nhost: app\r\nx-b: 2\r\n\r\n");
}

#[tokio::test]
async fn the_forwarding_fields_follow_the_clients_and_replace_its_own() {
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n", 64, true).await;
    let mut conn = connect(addr).await;
    let req = Request::get("/").header("host", "app").header("x-forwarded-for", "6.6.6.6").header("x-b", "2");
    let (mut parts, mut body) = req.body(crate::body::full(Bytes::new())).unwrap().into_parts();
    let fwd = crate::forward::Forwarding {
        client: "192.0.2.1".parse().unwrap(),
        peer: "192.0.2.1".parse().unwrap(),
        peer_trusted: false,
        tls: false,
        request_id: "r-1",
        memo: None,
        send: rampart_core::ForwardHeaders::ALL,
        websocket: true,
    };
    let forwarding = crate::forward::upstream_parts(&mut parts, &fwd);
    conn.exchange(&parts, Some(&forwarding), &mut body, "127.0.0.1:1".parse().unwrap()).await.unwrap();
    let received = String::from_utf8(server.await.unwrap()).unwrap();
    assert_eq!(
        received,
        "GET / HTTP/1.1\r\nhost: app\r\nx-b: 2\r\nx-forwarded-for: 192.0.2.1\r\nx-forwarded-proto: http\r\n\
         x-forwarded-host: app\r\nforwarded: for=192.0.2.1;proto=http;host=app\r\nx-request-id: r-1\r\n\r\n"
    );
}

#[tokio::test]
async fn a_body_without_a_length_is_sent_chunked_and_with_one_as_it_is() {
    let (addr, server) = scripted(b"0\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 64, true).await;
    let mut conn = connect(addr).await;
    let body = pieces(&[b"abc", b"defgh"]);
    let req = Request::post("/f").header("host", "app").body(body).unwrap();
    send(&mut conn, req).await.unwrap();
    let got = server.await.unwrap();
    assert_eq!(got, b"POST /f HTTP/1.1\r\nhost: app\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n");

    let (addr, server) = scripted(b"abcdefgh", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 64, true).await;
    let mut conn = connect(addr).await;
    let body = pieces(&[b"abc", b"defgh"]);
    let req = Request::post("/f").header("host", "app").header("content-length", "8").body(body).unwrap();
    send(&mut conn, req).await.unwrap();
    assert_eq!(server.await.unwrap(), b"POST /f HTTP/1.1\r\nhost: app\r\ncontent-length: 8\r\n\r\nabcdefgh");
}

#[tokio::test]
async fn a_body_shorter_than_declared_is_an_error() {
    let (addr, server) = scripted(b"abc", b"", 64, true).await;
    let mut conn = connect(addr).await;
    let req = Request::post("/f").header("host", "app").header("content-length", "8").body(crate::body::full("abc")).unwrap();
    let err = send(&mut conn, req).await.err().unwrap();
    assert!(matches!(err, Error::RequestBodyLength { declared: 8, sent: 3 }), "{err}");
    server.abort();
}

#[tokio::test]
async fn an_empty_post_says_its_length_is_zero() {
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 64, true).await;
    let mut conn = connect(addr).await;
    let req = Request::post("/f").header("host", "app").body(crate::body::full(Bytes::new())).unwrap();
    send(&mut conn, req).await.unwrap();
    assert_eq!(server.await.unwrap(), b"POST /f HTTP/1.1\r\nhost: app\r\ncontent-length: 0\r\n\r\n");
}

#[tokio::test]
async fn a_chunked_response_split_across_reads_is_decoded_with_its_trailers() {
    let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Sum: 9\r\n\r\n";
    for pieces in [1, 3, 7, answer.len()] {
        let (addr, server) = scripted(b"\r\n\r\n", answer, pieces, false).await;
        let mut conn = connect(addr).await;
        let head = send(&mut conn, get("/")).await.unwrap();
        assert_eq!(head.framing, Framing::Chunked);
        assert!(head.reusable);
        let (data, trailers) = read_body(&mut conn, head.framing).await.unwrap();
        assert_eq!(data, b"wikipedia in\r\n\r\nchunks.", "pieces of {pieces}");
        assert_eq!(trailers.unwrap()["x-sum"], "9");
        assert!(!conn.has_leftover());
        server.abort();
    }
}

#[tokio::test]
async fn a_chunked_response_without_trailers_ends_at_its_empty_line() {
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 5, false).await;
    let mut conn = connect(addr).await;
    let head = send(&mut conn, get("/")).await.unwrap();
    let (data, trailers) = read_body(&mut conn, head.framing).await.unwrap();
    assert_eq!((data.as_slice(), trailers.is_none()), (b"ok".as_slice(), true));
    assert!(!conn.has_leftover() && conn.is_usable());
    server.abort();
}

#[tokio::test]
async fn both_lengths_the_transfer_coding_wins_and_the_connection_is_not_reused() {
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 64, false).await;
    let mut conn = connect(addr).await;
    let head = send(&mut conn, get("/")).await.unwrap();
    assert_eq!(head.framing, Framing::Chunked);
    assert!(!head.reusable);
    assert!(head.response.headers().get(CONTENT_LENGTH).is_none());
    assert_eq!(read_body(&mut conn, head.framing).await.unwrap().0, b"ok");
    server.abort();
}

#[tokio::test]
async fn hop_by_hop_fields_and_those_connection_names_are_left_out() {
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: y\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n0\r\n\r\n", 64, false).await;
    let mut conn = connect(addr).await;
    let head = send(&mut conn, get("/")).await.unwrap();
    let names: Vec<_> = head.response.headers().keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["x-kept"]);
    assert_eq!((head.framing, head.reusable), (Framing::Chunked, true));
    server.abort();
}

/// Heads read one after another through one connection's name cache: a name at a position
/// the last head had another name at, a hop-by-hop field where an ordinary one was, and a
/// name differing only in case are all read as they are, not as the cache remembers.
#[test]
fn field_names_remembered_from_the_last_head_never_stand_in_for_others() {
    let mut names = NameCache::default();
    let mut head = |raw: &[u8]| {
        let mut buf = BytesMut::from(raw);
        match parse_head(&mut buf, false, false, &mut names) {
            Ok(Some(Parsed::Final(head))) => head,
            _ => panic!("{raw:?} not read"),
        }
    };
    let keys = |head: &Head| head.response.headers().iter().map(|(n, v)| format!("{n}={}", v.to_str().unwrap())).collect::<Vec<_>>();
    let first = head(b"HTTP/1.1 200 OK\r\nServer: a\r\nX-One: 1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(keys(&first), ["server=a", "x-one=1", "content-length=0"]);
    let same = head(b"HTTP/1.1 200 OK\r\nServer: b\r\nX-One: 2\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(keys(&same), ["server=b", "x-one=2", "content-length=0"]);
    let other = head(b"HTTP/1.1 200 OK\r\nServer: c\r\nConnection: close\r\nX-ONE: 3\r\nX-Two: 4\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(keys(&other), ["server=c", "x-one=3", "x-two=4", "content-length=0"]);
    assert!(!other.reusable, "the Connection: close at a cached position was read");
    let bad = parse_head(&mut BytesMut::from(&b"HTTP/1.1 200 OK\r\nServer: d\r\nBad Name: x\r\n\r\n"[..]), false, false, &mut names);
    assert!(bad.is_err());
    // Refused after two fields were kept: none of them turns up in the next head.
    let conflicting = b"HTTP/1.1 200 OK\r\nServer: e\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
    assert!(parse_head(&mut BytesMut::from(&conflicting[..]), false, false, &mut names).is_err());
    let mut buf = BytesMut::from(&b"HTTP/1.1 204 No Content\r\nX-Last: 5\r\n\r\n"[..]);
    let Ok(Some(Parsed::Final(last))) = parse_head(&mut buf, false, false, &mut names) else { panic!("not read") };
    assert_eq!(keys(&last), ["x-last=5"]);
}

#[tokio::test]
async fn malformed_responses_are_errors() {
    let cases: [(&'static [u8], &str); 6] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "conflicting"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "conflicting"),
        (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "invalid"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "101"),
        (b"NOT HTTP AT ALL\r\n\r\n", "invalid"),
    ];
    for (answer, says) in cases {
        let (addr, server) = scripted(b"\r\n\r\n", answer, 64, true).await;
        let mut conn = connect(addr).await;
        let err = send(&mut conn, get("/")).await.err().unwrap();
        assert!(err.to_string().contains(says), "{answer:?}: {err}");
        server.abort();
    }
}

#[tokio::test]
async fn an_invalid_chunk_size_is_an_error() {
    for answer in [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n".as_slice(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nok\r\n".as_slice(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n".as_slice(),
    ] {
        let (addr, server) = scripted(b"\r\n\r\n", answer, 64, false).await;
        let mut conn = connect(addr).await;
        let head = send(&mut conn, get("/")).await.unwrap();
        let err = read_body(&mut conn, head.framing).await.err().unwrap();
        assert!(err.to_string().contains("chunk"), "{err}");
        server.abort();
    }
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 9, false).await;
    let mut conn = connect(addr).await;
    let head = send(&mut conn, get("/")).await.unwrap();
    assert_eq!(head.response.status(), StatusCode::CREATED);
    assert_eq!(read_body(&mut conn, head.framing).await.unwrap().0, b"ok");
    server.abort();
}

#[tokio::test]
async fn no_length_reads_to_the_close_and_head_responses_have_no_body() {
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\nall of it", 4, true).await;
    let mut conn = connect(addr).await;
    let head = send(&mut conn, get("/")).await.unwrap();
    assert_eq!((head.framing, head.reusable), (Framing::Close, false));
    assert_eq!(read_body(&mut conn, head.framing).await.unwrap().0, b"all of it");
    server.await.unwrap();

    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", 64, false).await;
    let mut conn = connect(addr).await;
    let req = Request::head("/").header("host", "app").body(crate::body::full(Bytes::new())).unwrap();
    let head = send(&mut conn, req).await.unwrap();
    assert_eq!((head.framing, head.reusable), (Framing::Empty, true));
    assert_eq!(head.response.headers()[CONTENT_LENGTH], "50");
    server.abort();
}

#[tokio::test]
async fn connection_close_and_http_1_0_are_not_reused() {
    for answer in [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok".as_slice(),
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".as_slice(),
    ] {
        let (addr, server) = scripted(b"\r\n\r\n", answer, 64, true).await;
        let mut conn = connect(addr).await;
        let head = send(&mut conn, get("/")).await.unwrap();
        assert!(!head.reusable, "{answer:?}");
        server.abort();
    }
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 64, false).await;
    let mut conn = connect(addr).await;
    assert!(send(&mut conn, get("/")).await.unwrap().reusable);
    server.abort();
}

#[tokio::test]
async fn a_head_too_large_is_refused() {
    static BIG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let big = BIG.get_or_init(|| {
        let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..MAX_HEADERS + 1 {
            v.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        v.extend_from_slice(b"\r\n");
        v
    });
    let (addr, server) = scripted(b"\r\n\r\n", big, 1 << 20, false).await;
    let mut conn = connect(addr).await;
    assert!(matches!(send(&mut conn, get("/")).await, Err(Error::HeadTooLarge)));
    server.abort();
}

#[tokio::test]
async fn a_close_before_any_response_byte_is_told_apart() {
    let (addr, server) = scripted(b"\r\n\r\n", b"", 64, true).await;
    let mut conn = connect(addr).await;
    let err = send(&mut conn, get("/")).await.err().unwrap();
    assert!(err.is_closed_before_response(), "{err}");
    server.await.unwrap();

    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Le", 64, true).await;
    let mut conn = connect(addr).await;
    let err = send(&mut conn, get("/")).await.err().unwrap();
    assert!(!err.is_closed_before_response(), "{err}");
    server.await.unwrap();
}

#[tokio::test]
async fn an_idle_connection_the_server_closed_is_not_usable() {
    let (addr, server) = scripted(b"\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 64, true).await;
    let mut conn = connect(addr).await;
    let head = send(&mut conn, get("/")).await.unwrap();
    read_body(&mut conn, head.framing).await.unwrap();
    server.await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!conn.is_usable());
}

/// A body that arrives in pieces (each its own frame), of no declared length.
fn pieces(pieces: &[&'static [u8]]) -> ProxyBody {
    struct Pieces(std::vec::IntoIter<&'static [u8]>);
    impl Body for Pieces {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Ready(self.0.next().map(|p| Ok(Frame::data(Bytes::from_static(p)))))
        }
    }
    http_body_util::BodyExt::boxed(Pieces(pieces.to_vec().into_iter()))
}

fn websocket_handshake() -> Request<ProxyBody> {
    let mut req = get("/chat");
    crate::tunnel::set_upgrade_fields(req.headers_mut());
    req.headers_mut().insert("sec-websocket-key", http::HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="));
    req
}

#[tokio::test]
async fn a_websocket_101_ends_the_head_and_hands_over_the_socket() {
    // The server's first frame comes in the same write as its 101.
    let answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nframe!";
    let (addr, server) = scripted(b"\r\n\r\n", answer, answer.len(), false).await;
    let mut conn = connect(addr).await;
    let head = send(&mut conn, websocket_handshake()).await.unwrap();
    assert_eq!(head.response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(head.framing, Framing::Upgraded);
    assert!(!head.reusable);
    // Hop-by-hop as ever (the client's side writes its own); the handshake's own fields stay.
    assert!(head.response.headers().get("upgrade").is_none() && head.response.headers().get("connection").is_none());
    assert_eq!(head.response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let upgraded = conn.into_upgraded();
    assert_eq!(&upgraded.read[..], b"frame!");
    server.abort();
}

#[tokio::test]
async fn the_handshake_goes_out_with_its_upgrade_fields() {
    let answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
    let (addr, server) = scripted(b"\r\n\r\n", answer, answer.len(), true).await;
    let mut conn = connect(addr).await;
    send(&mut conn, websocket_handshake()).await.unwrap();
    let sent = String::from_utf8(server.await.unwrap()).unwrap().to_ascii_lowercase();
    assert!(sent.starts_with("get /chat http/1.1\r\n"), "{sent}");
    assert!(sent.contains("\r\nupgrade: websocket\r\n") && sent.contains("\r\nconnection: upgrade\r\n"), "{sent}");
}

#[tokio::test]
async fn a_101_that_is_not_the_websocket_asked_for_is_an_error() {
    let cases: [&'static [u8]; 3] = [
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    ];
    for answer in cases {
        let (addr, server) = scripted(b"\r\n\r\n", answer, 64, true).await;
        let mut conn = connect(addr).await;
        let err = send(&mut conn, websocket_handshake()).await.err().unwrap();
        assert!(err.to_string().contains("101"), "{answer:?}: {err}");
        server.abort();
    }
}
