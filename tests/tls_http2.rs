//! TLS termination, SNI certificate selection, ALPN, h2c and an IPv6 listener, through the
//! real binary. The CA and certificates are made at test time with rcgen.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::{client, temp_dir, write_file, Backend, Rampart};
use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

fn ca() -> Ca {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "Rampart test CA");
    let cert = params.self_signed(&key).expect("CA certificate");
    Ca { cert, key }
}

/// A certificate for `name` signed by `ca`, written as `<stem>.pem` / `<stem>.key` into `dir`;
/// returns its DER.
fn leaf(ca: &Ca, dir: &Path, stem: &str, name: &str) -> Vec<u8> {
    let key = KeyPair::generate().expect("leaf key");
    let mut params = CertificateParams::new(vec![name.to_string()]).expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.signed_by(&key, &ca.cert, &ca.key).expect("leaf certificate");
    write_file(dir, &format!("{stem}.pem"), &cert.pem());
    write_file(dir, &format!("{stem}.key"), &key.serialize_pem());
    cert.der().to_vec()
}

struct Certs {
    ca_pem: String,
    default: Vec<u8>,
    a: Vec<u8>,
    b: Vec<u8>,
}

fn make_certs(dir: &Path) -> Certs {
    let ca = ca();
    Certs {
        ca_pem: ca.cert.pem(),
        default: leaf(&ca, dir, "default", "default.test"),
        a: leaf(&ca, dir, "a", "a.test"),
        b: leaf(&ca, dir, "b", "b.test"),
    }
}

const TLS_LISTENER: &str = r#"tls = { cert = "default.pem", key = "default.key" }

[[listener.tls_sni]]
name = "a.test"
cert = "a.pem"
key = "a.key"

[[listener.tls_sni]]
name = "b.test"
cert = "b.pem"
key = "b.key"
"#;

/// Three listeners: TLS with HTTP/2, TLS with HTTP/1.1 only, cleartext (h2c allowed). Each on
/// its own loopback address: the configuration checker takes two `127.0.0.1:0` for one address
/// (see `tests/check_config.rs`).
fn start(backend: &Backend) -> (Rampart, Certs) {
    let dir = temp_dir();
    let certs = make_certs(dir.path());
    let config = format!(
        r#"
[[listener]]
address = "127.0.0.1:0"
{TLS_LISTENER}
[[listener]]
address = "127.0.0.2:0"
http2 = false
{TLS_LISTENER}
[[listener]]
address = "127.0.0.3:0"

[[upstream]]
name = "app"
servers = ["{}"]
"#,
        backend.addr
    );
    (Rampart::start_in(dir, &config), certs)
}

/// A client that trusts only the test CA and resolves the test names to `addr`.
fn tls_client(ca_pem: &str, addr: SocketAddr) -> reqwest::blocking::Client {
    let mut b = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA pem"))
        .tls_info(true);
    for name in ["a.test", "b.test", "c.test", "default.test"] {
        b = b.resolve(name, addr);
    }
    b.build().expect("client")
}

fn peer_certificate(resp: &reqwest::blocking::Response) -> Vec<u8> {
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("TLS info with the peer certificate")
        .to_vec()
}

#[test]
fn sni_selects_the_certificate_per_name() {
    let app = Backend::start("app");
    let (r, certs) = start(&app);
    let addr = r.addrs[0];
    let c = tls_client(&certs.ca_pem, addr);
    for (name, want) in [("a.test", &certs.a), ("b.test", &certs.b)] {
        let resp = c.get(format!("https://{name}:{}/hello", addr.port())).send().unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(resp.status(), 200, "{name}");
        assert_eq!(&peer_certificate(&resp), want, "{name} got another name's certificate");
        let echo: serde_json::Value = resp.json().unwrap();
        assert_eq!(echo["headers"]["x-forwarded-proto"], "https");
        assert_eq!(echo["headers"]["host"], format!("{name}:{}", addr.port()));
    }
    // An unknown name gets the default certificate, which does not name it: the client refuses.
    let err = c.get(format!("https://c.test:{}/", addr.port())).send().expect_err("a certificate for c.test");
    assert!(format!("{err:?}").to_lowercase().contains("certificate"), "{err:?}");
    let lax = reqwest::blocking::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .resolve("c.test", addr)
        .build()
        .unwrap();
    let resp = lax.get(format!("https://c.test:{}/", addr.port())).send().unwrap();
    assert_eq!(peer_certificate(&resp), certs.default);
    // The default certificate's own name is trusted.
    assert_eq!(c.get(format!("https://default.test:{}/", addr.port())).send().unwrap().status(), 200);
    assert_eq!(app.hits(), 4);
}

#[test]
fn alpn_negotiates_http2_unless_disabled() {
    let app = Backend::start("app");
    let (r, certs) = start(&app);
    let h2 = tls_client(&certs.ca_pem, r.addrs[0]);
    let resp = h2.get(format!("https://a.test:{}/", r.addrs[0].port())).send().unwrap();
    assert_eq!((resp.status().as_u16(), resp.version()), (200, reqwest::Version::HTTP_2));
    let h1 = tls_client(&certs.ca_pem, r.addrs[1]);
    let resp = h1.get(format!("https://a.test:{}/", r.addrs[1].port())).send().unwrap();
    assert_eq!((resp.status().as_u16(), resp.version()), (200, reqwest::Version::HTTP_11));
    assert_eq!(peer_certificate(&resp), certs.a);
    // A client that insists on HTTP/2 cannot have it on the HTTP/1.1-only listener.
    let only_h2 = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(certs.ca_pem.as_bytes()).unwrap())
        .resolve("a.test", r.addrs[1])
        .http2_prior_knowledge()
        .build()
        .unwrap();
    assert!(only_h2.get(format!("https://a.test:{}/", r.addrs[1].port())).send().is_err());
    let access = common::wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| l.len() >= 2);
    assert_eq!(access.iter().filter(|l| l["status"] == 200).count(), 2, "{access:?}");
}

#[test]
fn h2c_with_prior_knowledge_on_cleartext() {
    let app = Backend::start("app");
    let (r, _certs) = start(&app);
    let c = reqwest::blocking::Client::builder().no_proxy().http2_prior_knowledge().build().unwrap();
    let resp = c.post(format!("http://{}/h2c?q=1", r.addrs[2])).body("ping").send().unwrap();
    assert_eq!((resp.status().as_u16(), resp.version()), (200, reqwest::Version::HTTP_2));
    let echo: serde_json::Value = resp.json().unwrap();
    assert_eq!(echo["target"], "/h2c?q=1");
    assert_eq!(echo["body_len"], 4);
    assert_eq!(echo["headers"]["x-forwarded-proto"], "http");
    // Plain HTTP/1.1 on the same listener still works.
    assert_eq!(client().get(format!("http://{}/", r.addrs[2])).send().unwrap().version(), reqwest::Version::HTTP_11);
}

#[test]
fn an_ipv6_listener_serves() {
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        println!("skipping an_ipv6_listener_serves: this machine has no IPv6 loopback ([::1]:0: {e})");
        return;
    }
    let app = Backend::start("app");
    let r = Rampart::start(&format!(
        "[[listener]]\naddress = \"[::1]:0\"\n\n[[upstream]]\nname = \"app\"\nservers = [\"{}\"]\n",
        app.addr
    ));
    assert!(r.addrs[0].is_ipv6(), "{:?}", r.addrs);
    let resp = client().get(format!("http://[::1]:{}/six", r.addrs[0].port())).send().unwrap();
    assert_eq!(resp.status(), 200);
    let echo: serde_json::Value = resp.json().unwrap();
    assert_eq!(echo["headers"]["x-forwarded-for"], "::1");
    assert!(echo["headers"]["forwarded"].as_str().unwrap().starts_with("for=\"[::1]\";proto=http"), "{echo}");
    let access = common::wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| !l.is_empty());
    assert!(access.iter().any(|l| l["client"] == "::1" && l["path"] == "/six"), "{access:?}");
}

#[test]
fn a_large_body_streams_both_ways_over_http2() {
    let app = Backend::start("app");
    let dir = temp_dir();
    let certs = make_certs(dir.path());
    let config = format!(
        "[[listener]]\naddress = \"127.0.0.1:0\"\n{TLS_LISTENER}\n[limits]\nmax_body = \"8MiB\"\n\n[[upstream]]\nname = \"app\"\nservers = [\"{}\"]\n",
        app.addr
    );
    let r = Rampart::start_in(dir, &config);
    let c = tls_client(&certs.ca_pem, r.addrs[0]);
    let body: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 241) as u8).collect();
    let resp = c.post(format!("https://b.test:{}/upload", r.addrs[0].port())).body(body).send().unwrap();
    assert_eq!((resp.status().as_u16(), resp.version()), (200, reqwest::Version::HTTP_2));
    let echo: serde_json::Value = resp.json().unwrap();
    assert_eq!(echo["body_len"], 3 * 1024 * 1024);
    assert_eq!(echo["method"], "POST");
}
