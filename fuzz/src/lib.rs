//! Fuzz targets for what the shield does with attacker bytes before anything reaches an
//! upstream, and for the configuration reader.
//!
//! Shared by the cargo-fuzz targets in `fuzz_targets/` (libFuzzer, nightly) and by
//! `tests/fuzz_smoke.rs` (a deterministic mutator on stable), which includes this file with
//! `#[path]`: it may use only what both have — `rampart_proxy`, `rampart_config`, `hyper`,
//! `bytes`.
//!
//! Each target asserts properties, not just "no panic": framing accepted by the hygiene check
//! is unambiguous, an untrusted peer is its own client, a valid configuration obeys the
//! documented connection-cap ordering.

use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;

use hyper::http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use hyper::http::{HeaderMap, Uri, Version};
use bytes::BytesMut;
use rampart_proxy::downstream::{parse_head, BodyFraming};
use rampart_proxy::http1::names::NameCache;
use rampart_proxy::route::Router;
use rampart_proxy::{hygiene, proxy_protocol, ClientAddressSource, ClientIdentity, RouteSettings};

/// A parsed request head: what the connection hands the service.
pub struct Head {
    pub target: String,
    pub version: Version,
    pub headers: HeaderMap,
}

/// Target (a): a connection's first bytes. An optional PROXY header, then a request head
/// parsed by `parse` ([`connection_head`], the shield's own; [`lenient_head`] besides on
/// stable), then every check
/// the service makes before choosing an upstream.
pub fn request_head(data: &[u8], parse: fn(&[u8]) -> Option<Head>) {
    let mut client: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let rest = match proxy_protocol::parse(data) {
        Ok(Some((header, used))) => {
            assert!(used <= data.len(), "PROXY header claims {used} of {} bytes", data.len());
            if let proxy_protocol::ProxyHeader::Proxied { source, .. } = header {
                client = source.ip();
            }
            &data[used..]
        }
        Ok(None) | Err(_) => data,
    };
    if let Some(head) = parse(rest) {
        pre_upstream(&head, client);
    }
}

/// The service's checks, in its order: framing, client identity, routing.
pub fn pre_upstream(head: &Head, client: IpAddr) {
    let framing = hygiene::check_framing(head.version, &head.headers);
    if framing.is_ok() {
        let cl = head.headers.get_all(CONTENT_LENGTH).iter().count();
        let te = head.headers.get_all(TRANSFER_ENCODING).iter().count();
        assert!(cl <= 1 && te <= 1 && cl + te <= 1, "ambiguous framing accepted: {} CL, {} TE", cl, te);
        if te == 1 {
            assert_ne!(head.version, Version::HTTP_10, "TE accepted on HTTP/1.0");
        }
    }
    for identity in identities() {
        let resolved = identity.resolve(client, &head.headers);
        if !identity.is_trusted(client) {
            assert_eq!(resolved, client, "an untrusted peer's headers moved its client address");
        }
        let untrusted = IpAddr::from([203, 0, 113, 9]);
        assert_eq!(identity.resolve(untrusted, &head.headers), untrusted);
    }
    let host = request_host(&head.target, &head.headers);
    let path = head.target.parse::<Uri>().map(|u| u.path().to_string()).unwrap_or_else(|_| head.target.clone());
    let _ = router().find(host.as_deref(), &path);
}

/// The host as the service computes it: the target's authority, else `Host`, without port.
fn request_host(target: &str, headers: &HeaderMap) -> Option<String> {
    let raw = target
        .parse::<Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_string))
        .or_else(|| headers.get(HOST).and_then(|v| v.to_str().ok()).map(str::to_string))?;
    let host = if raw.starts_with('[') {
        raw.split(']').next().map(|h| format!("{h}]")).unwrap_or(raw)
    } else {
        raw.rsplit_once(':').map(|(h, _)| h.to_string()).unwrap_or(raw)
    };
    Some(host.to_ascii_lowercase())
}

fn identities() -> &'static [ClientIdentity] {
    static IDS: OnceLock<Vec<ClientIdentity>> = OnceLock::new();
    IDS.get_or_init(|| {
        let trusted = vec!["127.0.0.0/8".parse().expect("net"), "10.0.0.0/8".parse().expect("net"), "2001:db8::/32".parse().expect("net")];
        [ClientAddressSource::XForwardedFor, ClientAddressSource::Forwarded, ClientAddressSource::ProxyProtocol, ClientAddressSource::Peer]
            .into_iter()
            .map(|source| ClientIdentity { trusted_proxies: trusted.clone(), source })
            .collect()
    })
}

fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let route = |name: &str, host: Option<&str>, path: &str| RouteSettings {
            name: name.into(),
            host: host.map(Into::into),
            path_prefix: path.into(),
            upstream: "app".into(),
            sensitive: false,
            websocket: true,
        };
        Router::new(vec![
            route("root", None, "/"),
            route("contacts", None, "/contacts"),
            route("site", Some("campaign.example.org"), "/"),
            route("wild", Some("*.example.org"), "/api/"),
        ])
    })
}

/// A forgiving head splitter for the stable smoke test: request line on spaces, fields on the
/// first `:`, bare LF accepted, fields `http` refuses skipped. It lets through more than the
/// shield's parser does, so the checks see a superset of what the connection hands them.
pub fn lenient_head(data: &[u8]) -> Option<Head> {
    let end = data.windows(2).position(|w| w == b"\n\n").map(|i| i + 2).unwrap_or(data.len());
    let mut lines = data[..end].split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = std::str::from_utf8(lines.next()?).ok()?;
    let mut words = request_line.split(' ');
    let (_method, target, version) = (words.next()?, words.next()?, words.next().unwrap_or("HTTP/1.1"));
    let version = if version == "HTTP/1.0" { Version::HTTP_10 } else { Version::HTTP_11 };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(&line[..colon]), HeaderValue::from_bytes(line[colon + 1..].trim_ascii())) else {
            continue;
        };
        headers.append(name, value);
    }
    Some(Head { target: target.to_string(), version, headers })
}

/// A request head as the shield's HTTP/1.1 connection reads it ([`parse_head`]), or `None`
/// where the connection answers it itself (400, 431) or waits for more. The framing the
/// connection reads the body by is the service's: a head the service refuses for its framing
/// has no body read, so nothing in it can pass for a next request.
pub fn connection_head(data: &[u8]) -> Option<Head> {
    let head = parse_head(&mut BytesMut::from(data), 100, &mut NameCache::default()).ok()??;
    let refused = hygiene::check_framing(head.parts.version, &head.parts.headers).is_err();
    assert_eq!(refused, head.body == BodyFraming::Refused, "the connection and the service read the framing apart");
    if refused {
        assert!(!head.keep_alive, "a head refused for its framing keeps its connection");
    }
    let target = head.parts.uri.path_and_query().map_or_else(|| head.parts.uri.to_string(), |p| p.as_str().to_string());
    Some(Head { target, version: head.parts.version, headers: head.parts.headers })
}

/// Target (b): a configuration file's text. Never panics; a configuration it accepts obeys
/// the documented orderings; every error renders.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match rampart_config::parse(&text, Path::new("/nonexistent/rampart-fuzz/rampart.toml")) {
        Ok(c) => {
            let l = &c.limits;
            assert!(l.max_connections_per_client <= l.max_connections_per_prefix, "per-client cap above per-prefix");
            assert!(l.max_connections_per_prefix <= l.max_connections, "per-prefix cap above total");
            assert!(l.max_request_line <= l.max_header_bytes, "request line above head size");
            assert!(!c.listeners.is_empty(), "accepted a configuration without a listener");
        }
        Err(errors) => {
            let rendered = errors.to_string();
            assert!(!rendered.is_empty(), "an error without a message");
        }
    }
}

/// An upstream's bytes → the proxy's HTTP/1.1 client: response heads, framing, chunked bodies
/// and trailers. An upstream may be compromised or broken; nothing it sends may panic the
/// proxy.
pub fn upstream_response(data: &[u8]) {
    let head_request = data.first().is_some_and(|b| b & 1 == 1);
    let _ = rampart_proxy::upstream::read_response_bytes(data.get(1..).unwrap_or_default(), head_request);
}
