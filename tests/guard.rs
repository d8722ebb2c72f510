//! The connection guard against the real binary: per-client, total and per-prefix caps close
//! the connection over the cap at once, and the connections under it keep working.
//!
//! Every held connection has sent a partial request head, so it stays open (the default
//! `header_read_timeout` is 10 s, far longer than these tests) until we complete it.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{admin_section, config_for, eventually, metrics_text, temp_dir, Backend, Rampart};

const PARTIAL: &[u8] = b"GET /held HTTP/1.1\r\nHost: a\r\n";
const REST: &[u8] = b"Connection: close\r\n\r\n";

/// A connection that has sent `preamble` (a PROXY header or nothing) and a partial request.
fn hold(addr: SocketAddr, preamble: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(preamble).expect("preamble");
    s.write_all(PARTIAL).expect("partial request");
    s
}

/// Whether the shield closed `s` (EOF or reset) within `within`, without answering.
fn closed_without_answer(s: &mut TcpStream, within: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 512];
    match s.read(&mut buf) {
        Ok(0) => Ok(started.elapsed()),
        Ok(n) => Err(format!("answered instead of closing: {:?}", String::from_utf8_lossy(&buf[..n]))),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            Err(format!("still open after {within:?}"))
        }
        Err(_) => Ok(started.elapsed()), // reset
    }
}

/// Finish the held request and return the whole response.
fn complete(mut s: TcpStream) -> String {
    s.write_all(REST).expect("complete request");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn proxy_v1(source: &str) -> Vec<u8> {
    format!("PROXY TCP4 {source} 127.0.0.1 40000 80\r\n").into_bytes()
}

/// Give the shield a moment to register a connection it has just accepted.
/// The shield in front of `backend` with `extra` configuration and an admin listener (its
/// metrics say when held connections have been admitted).
fn shield(backend: &Backend, extra: &str) -> Rampart {
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    Rampart::start_in(dir, &config_for(backend, &format!("{extra}\n{admin}")))
}

/// Wait until the guard holds exactly `n` connections (admitted and not yet closed): the
/// connections a test holds have been counted, or the ones it closed released, before the next
/// one comes. A fixed sleep was not enough on a busy machine.
fn settle(rampart: &Rampart, n: u64) {
    eventually(Duration::from_secs(10), &format!("{n} connections open"), || {
        let text = metrics_text(rampart);
        let open = text.lines().find_map(|l| l.strip_prefix("rampart_connections_open ")).and_then(|v| v.trim().parse::<u64>().ok());
        (open == Some(n)).then_some(())
    });
}

#[test]
fn fourth_connection_from_one_client_is_closed_and_the_first_three_still_work() {
    let backend = Backend::start("guard");
    let rampart = shield(&backend, "[limits]\nmax_connections_per_client = 3\n");
    let addr = rampart.addrs[0];
    let held: Vec<TcpStream> = (0..3).map(|_| hold(addr, b"")).collect();
    settle(&rampart, 3);
    let mut fourth = hold(addr, b"");
    let took = closed_without_answer(&mut fourth, Duration::from_secs(3)).expect("4th connection");
    assert!(took < Duration::from_secs(2), "4th connection closed only after {took:?}");
    for (i, s) in held.into_iter().enumerate() {
        let resp = complete(s);
        assert!(resp.starts_with("HTTP/1.1 200"), "held connection {i}: {resp:?}");
    }
    assert_eq!(backend.hits(), 3);
    // The permits are released with the connections: a new one gets in.
    settle(&rampart, 0);
    let again = complete(hold(addr, b""));
    assert!(again.starts_with("HTTP/1.1 200"), "after release: {again:?}");
}

#[test]
fn total_cap_closes_the_connection_over_it_whoever_it_comes_from() {
    let backend = Backend::start("guard");
    // Each connection claims its own /24 through the PROXY protocol, so that only the total
    // cap can refuse the fifth (per-client and per-prefix shrink to 4 as well).
    let rampart = shield(
        &backend,
        r#"
[server]
client_address = "proxy-protocol"
trusted_proxies = ["127.0.0.0/8"]

[limits]
max_connections = 4
"#,
    );
    let addr = rampart.addrs[0];
    let held: Vec<TcpStream> = (1..=4).map(|i| hold(addr, &proxy_v1(&format!("198.51.{i}.1")))).collect();
    settle(&rampart, 4);
    let mut fifth = hold(addr, &proxy_v1("203.0.113.1"));
    closed_without_answer(&mut fifth, Duration::from_secs(3)).expect("5th connection");
    for (i, s) in held.into_iter().enumerate() {
        let resp = complete(s);
        assert!(resp.starts_with("HTTP/1.1 200"), "held connection {i}: {resp:?}");
        assert!(resp.contains(&format!("198.51.{}.1", i + 1)), "PROXY source not used as the client: {resp}");
    }
}

#[test]
fn per_prefix_cap_counts_a_slash_24_together_and_spares_the_next_one() {
    let backend = Backend::start("guard");
    let rampart = shield(
        &backend,
        r#"
[server]
client_address = "proxy-protocol"
trusted_proxies = ["127.0.0.0/8"]

[limits]
max_connections_per_prefix = 3
max_connections_per_client = 2
"#,
    );
    let addr = rampart.addrs[0];
    let held: Vec<TcpStream> = ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().map(|s| hold(addr, &proxy_v1(s))).collect();
    settle(&rampart, 3);
    let mut same_prefix = hold(addr, &proxy_v1("192.0.2.4"));
    closed_without_answer(&mut same_prefix, Duration::from_secs(3)).expect("4th connection from 192.0.2.0/24");
    let mut same_prefix_high = hold(addr, &proxy_v1("192.0.2.254"));
    closed_without_answer(&mut same_prefix_high, Duration::from_secs(3)).expect("192.0.2.254 is in the same /24");

    // A neighbouring /24 is another prefix.
    let other = complete(hold(addr, &proxy_v1("192.0.3.1")));
    assert!(other.starts_with("HTTP/1.1 200"), "192.0.3.1: {other:?}");
    for s in held {
        let resp = complete(s);
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp:?}");
    }
    assert_eq!(backend.hits(), 4);
}

#[test]
fn per_client_cap_applies_to_the_proxied_client_not_the_load_balancer() {
    let backend = Backend::start("guard");
    let rampart = shield(
        &backend,
        r#"
[server]
client_address = "proxy-protocol"
trusted_proxies = ["127.0.0.0/8"]

[limits]
max_connections_per_client = 2
"#,
    );
    let addr = rampart.addrs[0];
    // Six connections from one load balancer (127.0.0.1), three real clients: under the cap.
    let held: Vec<TcpStream> =
        ["192.0.2.10", "192.0.2.10", "192.0.2.11", "192.0.2.11", "192.0.2.12", "192.0.2.12"].iter().map(|s| hold(addr, &proxy_v1(s))).collect();
    settle(&rampart, 6);
    let mut third_from_10 = hold(addr, &proxy_v1("192.0.2.10"));
    closed_without_answer(&mut third_from_10, Duration::from_secs(3)).expect("3rd connection from 192.0.2.10");
    for s in held {
        let resp = complete(s);
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp:?}");
    }
}

#[test]
fn untrusted_peer_sending_a_proxy_header_is_refused() {
    let backend = Backend::start("guard");
    let rampart = shield(
        &backend,
        r#"
[server]
client_address = "proxy-protocol"
trusted_proxies = ["10.0.0.0/8"]
"#,
    );
    // 127.0.0.1 is not trusted: its PROXY line is not read as one, so it is a broken request.
    let mut s = TcpStream::connect(rampart.addrs[0]).expect("connect");
    // The shield may answer and close as soon as it sees the PROXY line: later writes may fail.
    let _ = s.write_all(&[proxy_v1("192.0.2.1"), PARTIAL.to_vec(), REST.to_vec()].concat());
    s.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let resp = String::from_utf8_lossy(&out);
    assert!(resp.is_empty() || resp.starts_with("HTTP/1.1 400"), "{resp:?}");
    assert_eq!(backend.hits(), 0);
}
