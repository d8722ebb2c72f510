//! Who the client is: `X-Forwarded-For` and `Forwarded` from trusted proxies only, and the
//! PROXY protocol (v1 and v2) from trusted peers only. Each is proven by the deny list acting
//! on the resolved address.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{client, config_for, get_request, raw_exchange, read_response, wait_json_logs, Backend, Rampart};

const DENIED: &str = "203.0.113.7";

fn identity_config(backend: &Backend, trusted: &str, source: &str) -> String {
    config_for(
        backend,
        &format!(
            "[server]\ntrusted_proxies = [\"{trusted}\"]\nclient_address = \"{source}\"\n\n[access]\ndeny = [\"{DENIED}\", \"192.0.2.7\"]\n"
        ),
    )
}

#[test]
fn x_forwarded_for_from_a_trusted_proxy_names_the_client() {
    let app = Backend::start("app");
    let r = Rampart::start(&identity_config(&app, "127.0.0.0/8", "x-forwarded-for"));
    let c = client();
    let denied = c.get(r.url("/")).header("x-forwarded-for", DENIED).send().unwrap();
    assert_eq!(denied.status(), 403);
    // A forged hop to the left of the real client does not help.
    let forged = c.get(r.url("/")).header("x-forwarded-for", format!("198.51.100.1, {DENIED}")).send().unwrap();
    assert_eq!(forged.status(), 403);
    let allowed = c.get(r.url("/")).header("x-forwarded-for", "203.0.113.8").send().unwrap();
    assert_eq!(allowed.status(), 200);
    let echo: serde_json::Value = allowed.json().unwrap();
    // The trusted chain is kept and the peer appended.
    assert_eq!(echo["headers"]["x-forwarded-for"], "203.0.113.8, 127.0.0.1");
    assert_eq!(echo["headers"]["forwarded"], format!("for=203.0.113.8;proto=http;host=\"{}\"", r.addrs[0]));
    assert_eq!(app.hits(), 1);
    let access = wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| l.len() >= 3);
    assert!(access.iter().any(|l| l["client"] == DENIED && l["status"] == 403 && l["stage"] == "access"), "{access:?}");
    assert!(access.iter().any(|l| l["client"] == "203.0.113.8" && l["status"] == 200), "{access:?}");
}

#[test]
fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let app = Backend::start("app");
    let r = Rampart::start(&identity_config(&app, "10.0.0.0/8", "x-forwarded-for"));
    let resp = client()
        .get(r.url("/"))
        .header("x-forwarded-for", DENIED)
        .header("forwarded", format!("for={DENIED}"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200, "an untrusted peer's header decided the client");
    let echo: serde_json::Value = resp.json().unwrap();
    assert_eq!(echo["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(echo["headers"]["forwarded"], format!("for=127.0.0.1;proto=http;host=\"{}\"", r.addrs[0]));
    // The host as the client sent it, port included.
    assert_eq!(echo["headers"]["x-forwarded-host"], r.addrs[0].to_string());
    let access = wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| !l.is_empty());
    assert!(access.iter().all(|l| l["client"] == "127.0.0.1"), "{access:?}");
}

#[test]
fn forwarded_header_from_a_trusted_proxy_names_the_client() {
    let app = Backend::start("app");
    let r = Rampart::start(&identity_config(&app, "127.0.0.0/8", "forwarded"));
    let c = client();
    let denied = c.get(r.url("/")).header("forwarded", format!("for={DENIED};proto=https")).send().unwrap();
    assert_eq!(denied.status(), 403);
    let ok = c.get(r.url("/")).header("forwarded", "for=\"[2001:db8::9]:4711\";proto=https").send().unwrap();
    assert_eq!(ok.status(), 200);
    let echo: serde_json::Value = ok.json().unwrap();
    let forwarded = echo["headers"]["forwarded"].as_str().unwrap();
    assert!(forwarded.contains("for=\"[2001:db8::9]\""), "{forwarded}");
    // X-Forwarded-For is not the configured source: it names nobody.
    let xff = c.get(r.url("/")).header("x-forwarded-for", DENIED).send().unwrap();
    assert_eq!(xff.status(), 200);
    let access = wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| l.len() >= 3);
    assert!(access.iter().any(|l| l["client"] == "2001:db8::9"), "{access:?}");
}

fn proxy_v1(source: &str) -> Vec<u8> {
    format!("PROXY TCP4 {source} 127.0.0.1 40000 80\r\n").into_bytes()
}

fn proxy_v2(source: [u8; 4]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend([0x21, 0x11, 0, 12]);
    h.extend(source);
    h.extend([127, 0, 0, 1]);
    h.extend(40000u16.to_be_bytes());
    h.extend(80u16.to_be_bytes());
    h
}

/// Send `header` then a keep-alive GET on a fresh connection; the response, or `None` when the
/// shield closed the connection without one.
fn through_proxy_header(r: &Rampart, header: &[u8], path: &str) -> Option<common::RawResponse> {
    let mut s = TcpStream::connect(r.addrs[0]).unwrap();
    let mut bytes = header.to_vec();
    bytes.extend(get_request(path, &[]));
    s.write_all(&bytes).unwrap();
    read_response(&mut s, Duration::from_secs(5))
}

#[test]
fn proxy_protocol_v1_and_v2_name_the_client() {
    let app = Backend::start("app");
    let r = Rampart::start(&identity_config(&app, "127.0.0.0/8", "proxy-protocol"));
    for (version, denied, allowed) in [
        ("v1", proxy_v1("192.0.2.7"), proxy_v1("192.0.2.8")),
        ("v2", proxy_v2([192, 0, 2, 7]), proxy_v2([192, 0, 2, 8])),
    ] {
        // The deny list acts at connection time, on the PROXY source: closed without a word.
        assert!(through_proxy_header(&r, &denied, "/").is_none(), "{version}: denied source was served");
        let resp = through_proxy_header(&r, &allowed, &format!("/{version}")).unwrap_or_else(|| panic!("{version}: no response"));
        assert_eq!(resp.status, 200, "{version}");
        assert_eq!(resp.json()["headers"]["x-forwarded-for"], "192.0.2.8, 127.0.0.1", "{version}");
    }
    assert_eq!(app.hits(), 2);
    let is_refusal = |e: &serde_json::Value| e["kind"] == "connection_refused" && e["client"] == "192.0.2.7";
    let events = wait_json_logs(&r, "rampart::event", Duration::from_secs(5), |e| e.iter().filter(|e| is_refusal(e)).count() >= 2);
    let refused = events.iter().filter(|e| is_refusal(e)).count();
    assert_eq!(refused, 2, "{}", r.logs().join("\n"));
    let access = wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| l.len() >= 2);
    assert_eq!(access.iter().filter(|l| l["client"] == "192.0.2.8" && l["status"] == 200).count(), 2, "{access:?}");
    // A trusted peer that sends no PROXY header is refused too: the listener expects one.
    let bare = raw_exchange(r.addrs[0], &get_request("/", &["Connection: close"]), Duration::from_secs(5));
    assert!(!bare.contains("200 OK"), "{bare}");
    assert_eq!(app.hits(), 2);
}

#[test]
fn proxy_protocol_from_an_untrusted_peer_is_not_honoured() {
    let app = Backend::start("app");
    let r = Rampart::start(&identity_config(&app, "10.0.0.0/8", "proxy-protocol"));
    for header in [proxy_v1("192.0.2.8"), proxy_v2([192, 0, 2, 8])] {
        let mut bytes = header.clone();
        bytes.extend(get_request("/", &["Connection: close"]));
        let out = raw_exchange(r.addrs[0], &bytes, Duration::from_secs(5));
        assert!(!out.contains("200 OK"), "a PROXY header from an untrusted peer was honoured: {out}");
    }
    assert_eq!(app.hits(), 0);
    // The same peer speaking plain HTTP is served, as itself.
    let resp = client().get(r.url("/")).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<serde_json::Value>().unwrap()["headers"]["x-forwarded-for"], "127.0.0.1");
    let access = wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| !l.is_empty());
    assert!(access.iter().all(|l| l["client"] == "127.0.0.1"), "{access:?}");
}
