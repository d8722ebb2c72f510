//! The request toward the upstream and the response back: hop-by-hop headers removed,
//! forwarding headers set.

use std::fmt::Write;
use std::net::IpAddr;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Uri, Version};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// The request id header, toward the upstream and back to the client.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    // By the name's text: a few length-and-byte comparisons, where comparing `HeaderName`s
    // one by one walked the whole list for every header of every request.
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "proxy-connection" | "proxy-authenticate" | "te" | "trailer" | "upgrade" | "transfer-encoding"
    )
}

/// Remove hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names present (a handful); only those found are removed (a removal
    // hashes its name, found or not).
    let found: Vec<HeaderName> = headers.keys().filter(|n| is_hop_by_hop(n)).cloned().collect();
    if found.is_empty() {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        strip_named(headers);
    }
    for name in found {
        headers.remove(name);
    }
}

/// Remove the headers the `Connection` header names.
fn strip_named(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in &named {
        headers.remove(name);
    }
}

/// A header value from a string built for it, without copying it again.
fn owned_value(s: String) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(Bytes::from(s)).ok()
}

/// Facts the upstream is told about the original request.
pub struct Forwarding<'a> {
    pub client: IpAddr,
    pub peer: IpAddr,
    pub peer_trusted: bool,
    pub tls: bool,
    pub host: Option<&'a str>,
    /// The request id, as the header value it is sent as (to the upstream and to the client).
    pub request_id: HeaderValue,
}

/// Turn the client's request head into the upstream's: origin-form target (the upstream
/// client sends it to the server it picked, with that server as `Host` when the request named
/// none), HTTP/1.1, hop-by-hop removed, `X-Forwarded-*`, `Forwarded` and `X-Request-Id` set.
pub fn upstream_parts(parts: &mut Parts, fwd: &Forwarding<'_>) -> Result<(), http::Error> {
    let uri = match parts.uri.path_and_query() {
        Some(_) if parts.uri.scheme().is_none() && parts.uri.authority().is_none() => parts.uri.clone(),
        Some(pq) => Uri::from(pq.clone()),
        None => Uri::from_static("/"),
    };
    // An HTTP/2 request carries its host in the `:authority` pseudo-header only; the upstream
    // speaks HTTP/1.1 and needs it as `Host`.
    if !parts.headers.contains_key(header::HOST) {
        if let Some(host) = parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            parts.headers.insert(header::HOST, host);
        }
    }
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    let h = &mut parts.headers;
    strip_hop_by_hop(h);
    // Room for the six fields set below at once, not a rehash per insert.
    h.reserve(6);

    // Keep the chain a trusted proxy gave us; from anyone else it is a forgery and is dropped.
    let prior_xff = if fwd.peer_trusted {
        let joined: Vec<&str> = h.get_all(&X_FORWARDED_FOR).iter().filter_map(|v| v.to_str().ok()).collect();
        (!joined.is_empty()).then(|| joined.join(", "))
    } else {
        None
    };
    let mut xff = String::with_capacity(48);
    match prior_xff {
        Some(chain) => {
            xff.push_str(&chain);
            xff.push_str(", ");
        }
        None if fwd.client != fwd.peer => {
            push_ip(&mut xff, fwd.client);
            xff.push_str(", ");
        }
        None => {}
    }
    push_ip(&mut xff, fwd.peer);
    if let Some(v) = owned_value(xff) {
        // `insert` replaces every value the client sent.
        h.insert(X_FORWARDED_FOR, v);
    } else {
        h.remove(X_FORWARDED_FOR);
    }
    let proto = if fwd.tls { "https" } else { "http" };
    h.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    if let Some(host) = fwd.host.and_then(|host| HeaderValue::from_str(host).ok()) {
        h.insert(X_FORWARDED_HOST, host);
    }
    let mut forwarded = String::with_capacity(64);
    match fwd.client {
        IpAddr::V4(_) => {
            forwarded.push_str("for=");
            push_ip(&mut forwarded, fwd.client);
        }
        IpAddr::V6(v6) => {
            let _ = write!(forwarded, "for=\"[{v6}]\"");
        }
    }
    forwarded.push_str(";proto=");
    forwarded.push_str(proto);
    if let Some(host) = fwd.host.filter(|host| host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))) {
        forwarded.push_str(";host=");
        forwarded.push_str(host);
    }
    if !fwd.peer_trusted {
        h.remove(header::FORWARDED);
    }
    if let Some(v) = owned_value(forwarded) {
        h.append(header::FORWARDED, v);
    }
    h.insert(X_REQUEST_ID, fwd.request_id.clone());
    Ok(())
}

/// Append `ip` as text: IPv4 by hand (every request), IPv6 through `Display`.
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(req: Request<()>) -> Parts {
        req.into_parts().0
    }

    #[test]
    fn every_hop_by_hop_header_is_stripped_and_the_rest_kept() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("Connection", "close"),
            ("Connection", "X-Named"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("Proxy-Authenticate", "Basic"),
            ("TE", "trailers"),
            ("Trailer", "x"),
            ("Upgrade", "websocket"),
            ("Transfer-Encoding", "chunked"),
            ("Transfer-Encoding", "gzip"),
            ("X-Named", "1"),
            ("Accept", "*/*"),
            ("Proxy-Authorization", "Basic eA=="),
        ] {
            h.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        // Proxy-Authorization is not in the list (RFC 9110 leaves it to the proxy it is for).
        assert_eq!(left, ["accept", "proxy-authorization"]);
        // Nothing to strip: left as it is.
        let mut clean = HeaderMap::new();
        clean.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut clean);
        assert_eq!(clean.len(), 1);
    }

    #[test]
    fn forwarding_headers_are_set_and_forged_ones_dropped() {
        let mut p = parts(
            Request::get("/contacts?q=a")
                .header("host", "campaign.example.org")
                .header("x-forwarded-for", "6.6.6.6")
                .header("connection", "keep-alive, x-secret")
                .header("x-secret", "1")
                .body(())
                .unwrap(),
        );
        let fwd = Forwarding {
            client: "192.0.2.9".parse().unwrap(),
            peer: "192.0.2.9".parse().unwrap(),
            peer_trusted: false,
            tls: true,
            host: Some("campaign.example.org"),
            request_id: HeaderValue::from_static("abc-1"),
        };
        upstream_parts(&mut p, &fwd).unwrap();
        assert_eq!(p.uri, "/contacts?q=a");
        assert_eq!(p.headers["x-forwarded-for"], "192.0.2.9");
        assert_eq!(p.headers["x-forwarded-proto"], "https");
        assert_eq!(p.headers["x-request-id"], "abc-1");
        assert_eq!(p.headers["forwarded"], "for=192.0.2.9;proto=https;host=campaign.example.org");
        assert!(p.headers.get("x-secret").is_none());
        assert!(p.headers.get("connection").is_none());
        assert_eq!(p.headers["host"], "campaign.example.org");
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in ["0.0.0.0", "127.0.0.1", "10.20.30.40", "100.9.99.255", "255.255.255.255", "::1", "2001:db8::7", "::ffff:192.0.2.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut s = String::new();
            push_ip(&mut s, ip);
            assert_eq!(s, ip.to_string());
        }
    }

    #[test]
    fn trusted_chain_is_extended() {
        let mut p = parts(Request::get("/").header("x-forwarded-for", "203.0.113.5").body(()).unwrap());
        let fwd = Forwarding {
            client: "203.0.113.5".parse().unwrap(),
            peer: "10.0.0.2".parse().unwrap(),
            peer_trusted: true,
            tls: false,
            host: None,
            request_id: HeaderValue::from_static("x"),
        };
        upstream_parts(&mut p, &fwd).unwrap();
        assert_eq!(p.headers["x-forwarded-for"], "203.0.113.5, 10.0.0.2");
        assert_eq!(p.headers["forwarded"], "for=203.0.113.5;proto=http");
    }
}
