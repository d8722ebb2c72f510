//! The request toward the upstream and the response back: hop-by-hop headers removed,
//! forwarding headers set.

use std::net::{IpAddr, SocketAddr};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Uri, Version};

/// Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Remove hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

/// Facts the upstream is told about the original request.
pub struct Forwarding<'a> {
    pub client: IpAddr,
    pub peer: IpAddr,
    pub peer_trusted: bool,
    pub tls: bool,
    pub host: Option<&'a str>,
    pub request_id: &'a str,
}

/// Turn the client's request head into the upstream's: absolute-form target on `server`,
/// HTTP/1.1, hop-by-hop removed, `X-Forwarded-*`, `Forwarded` and `X-Request-Id` set.
pub fn upstream_parts(parts: &mut Parts, server: SocketAddr, fwd: &Forwarding<'_>) -> Result<(), http::Error> {
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let uri = Uri::builder().scheme("http").authority(server.to_string()).path_and_query(path_and_query).build()?;
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

    // Keep the chain a trusted proxy gave us; from anyone else it is a forgery and is dropped.
    let prior_xff = if fwd.peer_trusted {
        let joined: Vec<&str> = h.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        (!joined.is_empty()).then(|| joined.join(", "))
    } else {
        None
    };
    let xff = match prior_xff {
        Some(chain) => format!("{chain}, {}", fwd.peer),
        None if fwd.client != fwd.peer => format!("{}, {}", fwd.client, fwd.peer),
        None => fwd.peer.to_string(),
    };
    h.remove("x-forwarded-for");
    if let Ok(v) = HeaderValue::from_str(&xff) {
        h.insert("x-forwarded-for", v);
    }
    let proto = if fwd.tls { "https" } else { "http" };
    h.insert("x-forwarded-proto", HeaderValue::from_static(if fwd.tls { "https" } else { "http" }));
    if let Some(host) = fwd.host.and_then(|host| HeaderValue::from_str(host).ok()) {
        h.insert("x-forwarded-host", host);
    }
    let for_value = match fwd.client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let forwarded = match fwd.host {
        Some(host) if host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b)) => {
            format!("for={for_value};proto={proto};host={host}")
        }
        _ => format!("for={for_value};proto={proto}"),
    };
    if !fwd.peer_trusted {
        h.remove(header::FORWARDED);
    }
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        h.append(header::FORWARDED, v);
    }
    if let Ok(v) = HeaderValue::from_str(fwd.request_id) {
        h.insert("x-request-id", v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(req: Request<()>) -> Parts {
        req.into_parts().0
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
        upstream_parts(&mut p, "127.0.0.1:9100".parse().unwrap(), &fwd).unwrap();
        assert_eq!(p.uri, "http://127.0.0.1:9100/contacts?q=a");
        assert_eq!(p.headers["x-forwarded-for"], "192.0.2.9");
        assert_eq!(p.headers["x-forwarded-proto"], "https");
        assert_eq!(p.headers["x-request-id"], "abc-1");
        assert_eq!(p.headers["forwarded"], "for=192.0.2.9;proto=https;host=campaign.example.org");
        assert!(p.headers.get("x-secret").is_none());
        assert!(p.headers.get("connection").is_none());
        assert_eq!(p.headers["host"], "campaign.example.org");
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
        upstream_parts(&mut p, "127.0.0.1:9100".parse().unwrap(), &fwd).unwrap();
        assert_eq!(p.headers["x-forwarded-for"], "203.0.113.5, 10.0.0.2");
        assert_eq!(p.headers["forwarded"], "for=203.0.113.5;proto=http");
    }
}
