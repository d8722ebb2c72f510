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
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::TRANSFER_ENCODING,
];

/// `name`'s place in [`HOP_BY_HOP`], by the name's text: a few length-and-byte comparisons,
/// where comparing `HeaderName`s one by one walked the whole list for every header.
pub(crate) fn hop_by_hop_index(name: &str) -> Option<usize> {
    Some(match name {
        "connection" => 0,
        "keep-alive" => 1,
        "proxy-connection" => 2,
        "proxy-authenticate" => 3,
        "te" => 4,
        "trailer" => 5,
        "upgrade" => 6,
        "transfer-encoding" => 7,
        _ => return None,
    })
}

/// Remove hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names present (a handful), noting which hop-by-hop ones are there;
    // only those are removed (a removal hashes its name, found or not). No allocation.
    let mut found = 0u8;
    for name in headers.keys() {
        if let Some(i) = hop_by_hop_index(name.as_str()) {
            found |= 1 << i;
        }
    }
    if found == 0 {
        return;
    }
    if found & 1 != 0 {
        strip_named(headers, &mut found);
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if found & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

/// Remove the headers the `Connection` header names; those of [`HOP_BY_HOP`] (`keep-alive`,
/// mostly) are marked in `found` instead, to be removed with the rest.
fn strip_named(headers: &mut HeaderMap, found: &mut u8) {
    // Each value is cloned (a reference count, not a copy) so that the map can change while
    // its tokens are read; a removal by `&str` parses the name on the stack.
    let mut n = 0;
    while let Some(value) = headers.get_all(header::CONNECTION).iter().nth(n).cloned() {
        n += 1;
        // By bytes: a `str` split and trim (a char pattern, Unicode whitespace) cost more than
        // the short list they cut. A value that is not visible ASCII names nothing.
        let text = value.to_str().map(str::as_bytes).unwrap_or_default();
        for token in text.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|t| !t.is_empty()) {
            match HOP_BY_HOP.iter().position(|h| h.as_str().as_bytes().eq_ignore_ascii_case(token)) {
                Some(i) => *found |= 1 << i,
                None => {
                    if let Ok(name) = std::str::from_utf8(token) {
                        headers.remove(name);
                    }
                }
            }
        }
    }
}

/// Facts the upstream is told about the original request.
pub struct Forwarding<'a> {
    pub client: IpAddr,
    pub peer: IpAddr,
    pub peer_trusted: bool,
    pub tls: bool,
    pub host: Option<&'a str>,
    /// The request id, sent to the upstream (and, from the same buffer, back to the client).
    pub request_id: &'a str,
}

/// Turn the client's request head into the upstream's: origin-form target (the upstream
/// client sends it to the server it picked, with that server as `Host` when the request named
/// none), HTTP/1.1, hop-by-hop removed, `X-Forwarded-*`, `Forwarded` and `X-Request-Id` set.
/// Returns the `X-Request-Id` value, for the response to the client.
pub fn upstream_parts(parts: &mut Parts, fwd: &Forwarding<'_>) -> Result<HeaderValue, http::Error> {
    // An HTTP/2 request carries its host in the `:authority` pseudo-header only; the upstream
    // speaks HTTP/1.1 and needs it as `Host`.
    if !parts.headers.contains_key(header::HOST) {
        if let Some(host) = parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            parts.headers.insert(header::HOST, host);
        }
    }
    // Already in origin form (every HTTP/1 request but a proxy's): left as it is.
    let absolute = parts.uri.scheme().is_some() || parts.uri.authority().is_some();
    if absolute || parts.uri.path_and_query().is_none() {
        parts.uri = parts.uri.path_and_query().map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
    }
    parts.version = Version::HTTP_11;
    let h = &mut parts.headers;
    strip_hop_by_hop(h);
    // Room for the six fields set below at once, not a rehash per insert.
    h.reserve(6);

    // The values written here share one buffer (one allocation and its count, not a copy
    // each): `X-Forwarded-For`, `Forwarded`, `X-Forwarded-Host`, `X-Request-Id`, in that order.
    let mut text = String::with_capacity(96 + 2 * fwd.host.map_or(0, str::len) + fwd.request_id.len());
    // Keep the chain a trusted proxy gave us; from anyone else it is a forgery and is dropped.
    let mut chained = false;
    if fwd.peer_trusted {
        for prior in h.get_all(&X_FORWARDED_FOR).iter().filter_map(|v| v.to_str().ok()) {
            text.push_str(prior);
            text.push_str(", ");
            chained = true;
        }
    }
    if !chained && fwd.client != fwd.peer {
        push_ip(&mut text, fwd.client);
        text.push_str(", ");
    }
    push_ip(&mut text, fwd.peer);
    let xff_end = text.len();
    match fwd.client {
        IpAddr::V4(_) => {
            text.push_str("for=");
            push_ip(&mut text, fwd.client);
        }
        IpAddr::V6(v6) => {
            let _ = write!(text, "for=\"[{v6}]\"");
        }
    }
    let proto = if fwd.tls { "https" } else { "http" };
    text.push_str(";proto=");
    text.push_str(proto);
    if let Some(host) = fwd.host.filter(|host| host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))) {
        text.push_str(";host=");
        text.push_str(host);
    }
    let forwarded_end = text.len();
    text.push_str(fwd.host.unwrap_or_default());
    let host_end = text.len();
    text.push_str(fwd.request_id);
    let text = Bytes::from(text);
    let value = |range: std::ops::Range<usize>| HeaderValue::from_maybe_shared(text.slice(range)).ok();

    if let Some(v) = value(0..xff_end) {
        // `insert` replaces every value the client sent.
        h.insert(X_FORWARDED_FOR, v);
    } else {
        h.remove(X_FORWARDED_FOR);
    }
    h.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    if let Some(host) = fwd.host.and_then(|_| value(forwarded_end..host_end)) {
        h.insert(X_FORWARDED_HOST, host);
    }
    match value(xff_end..forwarded_end) {
        // After a trusted proxy's elements; `insert` drops anyone else's.
        Some(v) if fwd.peer_trusted => {
            h.append(header::FORWARDED, v);
        }
        Some(v) => {
            h.insert(header::FORWARDED, v);
        }
        None if fwd.peer_trusted => {}
        None => {
            h.remove(header::FORWARDED);
        }
    }
    let id = value(host_end..text.len()).unwrap_or(HeaderValue::from_static("-"));
    h.insert(X_REQUEST_ID, id.clone());
    Ok(id)
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
            request_id: "abc-1",
        };
        assert_eq!(upstream_parts(&mut p, &fwd).unwrap(), "abc-1");
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
            request_id: "x",
        };
        upstream_parts(&mut p, &fwd).unwrap();
        assert_eq!(p.headers["x-forwarded-for"], "203.0.113.5, 10.0.0.2");
        assert_eq!(p.headers["forwarded"], "for=203.0.113.5;proto=http");
    }
}
