//! Who the client really is: the socket peer, unless the peer is a trusted proxy, in which
//! case the address it forwarded.
//!
//! Forwarding headers are a list of hops, the last appended by the nearest proxy. We walk them
//! from the right and stop at the first hop that is not itself trusted: everything left of it
//! was written by the client and can be forged.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

use crate::settings::{ClientAddressSource, ClientIdentity};

impl ClientIdentity {
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client address for a request from `peer` (already the PROXY-protocol address
    /// when that source is used) with `headers`.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = match self.source {
            ClientAddressSource::XForwardedFor => headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(parse_hop)
                .collect(),
            ClientAddressSource::Forwarded => headers
                .get_all(http::header::FORWARDED)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(forwarded_for)
                .collect(),
            ClientAddressSource::ProxyProtocol | ClientAddressSource::Peer => return peer,
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = hop;
            if !self.is_trusted(hop) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` element: an address, possibly with a port or in brackets.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    // `192.0.2.1:8080`
    let (host, _port) = s.rsplit_once(':')?;
    host.parse().ok()
}

/// The `for=` parameter of one RFC 7239 `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        parse_hop(v.trim().trim_matches('"'))
    })
}

/// Whether `ip` is in any of `nets`.
pub fn in_any(nets: &[IpNet], ip: IpAddr) -> bool {
    nets.iter().any(|n| n.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(source: ClientAddressSource) -> ClientIdentity {
        ClientIdentity {
            trusted_proxies: vec!["127.0.0.0/8".parse().unwrap(), "10.0.0.0/8".parse().unwrap()],
            source,
        }
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_says() {
        let id = identity(ClientAddressSource::XForwardedFor);
        let h = headers("x-forwarded-for", &["198.51.100.9"]);
        assert_eq!(id.resolve("192.0.2.1".parse().unwrap(), &h), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn walks_from_the_right_past_trusted_hops() {
        let id = identity(ClientAddressSource::XForwardedFor);
        let h = headers("x-forwarded-for", &["6.6.6.6, 203.0.113.5", "10.1.1.1"]);
        assert_eq!(id.resolve("127.0.0.1".parse().unwrap(), &h), "203.0.113.5".parse::<IpAddr>().unwrap());
        let none = HeaderMap::new();
        assert_eq!(id.resolve("127.0.0.1".parse().unwrap(), &none), "127.0.0.1".parse::<IpAddr>().unwrap());
        let garbage = headers("x-forwarded-for", &["not-an-ip"]);
        assert_eq!(id.resolve("127.0.0.1".parse().unwrap(), &garbage), "127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn forwarded_header() {
        let id = identity(ClientAddressSource::Forwarded);
        let h = headers("forwarded", &["for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\""]);
        assert_eq!(id.resolve("10.0.0.2".parse().unwrap(), &h), "2001:db8::1".parse::<IpAddr>().unwrap());
    }
}
