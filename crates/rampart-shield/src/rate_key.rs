//! [`RateKey`]: what a rate limit counts by, and how a request's key is found.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderName;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rampart_core::RequestContext;
use rampart_state::{KeyHash, KeyLabel};

/// What requests are counted together.
///
/// A request without the key's value (no route matched, header or cookie absent) is not
/// counted by that limit at all. Header and cookie keys are therefore easy to dodge by
/// leaving them out; pair them with a `client` or `prefix` limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateKey {
    /// The client address (after trusted-proxy resolution). The default.
    Client,
    /// The client's /24 (IPv4) or /64 (IPv6): one host with many addresses counts once.
    Prefix,
    /// The matched route's name: a cap on the route as a whole.
    Route,
    /// A request header's value (`header:X-Api-Key`).
    Header(HeaderName),
    /// A cookie's value (`cookie:session`).
    Cookie(String),
}

/// A `key = "..."` that is not one of the forms above.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limit key `{0}`: expected `client`, `prefix`, `route`, `header:NAME` or `cookie:NAME`")]
pub struct RateKeyError(pub String);

impl FromStr for RateKey {
    type Err = RateKeyError;

    fn from_str(s: &str) -> Result<RateKey, RateKeyError> {
        let err = || RateKeyError(s.to_string());
        match s.split_once(':') {
            None => match s {
                "client" => Ok(RateKey::Client),
                "prefix" => Ok(RateKey::Prefix),
                "route" => Ok(RateKey::Route),
                _ => Err(err()),
            },
            Some(("header", name)) => HeaderName::from_str(name.trim()).map(RateKey::Header).map_err(|_| err()),
            Some(("cookie", name)) if !name.trim().is_empty() && !name.contains([';', '=', ' ']) => {
                Ok(RateKey::Cookie(name.trim().to_string()))
            }
            Some(_) => Err(err()),
        }
    }
}

impl fmt::Display for RateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateKey::Client => f.write_str("client"),
            RateKey::Prefix => f.write_str("prefix"),
            RateKey::Route => f.write_str("route"),
            RateKey::Header(name) => write!(f, "header:{name}"),
            RateKey::Cookie(name) => write!(f, "cookie:{name}"),
        }
    }
}

/// One request's key: its hash, and what to call it if it turns up among the offenders.
pub(crate) struct KeyOf<'a> {
    pub hash: KeyHash,
    name: KeyName<'a>,
}

enum KeyName<'a> {
    Addr(IpAddr),
    Net(IpNet),
    Route(&'a str),
    /// Header and cookie values may be secrets (API keys, session ids): reports show only
    /// which kind of key it was and its hash.
    Hidden(&'static str),
}

impl KeyOf<'_> {
    pub fn label(&self) -> KeyLabel {
        match self.name {
            KeyName::Addr(a) => KeyLabel::from_display(a),
            KeyName::Net(n) => KeyLabel::from_display(n),
            KeyName::Route(r) => KeyLabel::new(r),
            KeyName::Hidden(kind) => KeyLabel::from_display(format_args!("{kind}#{:016x}", self.hash.value())),
        }
    }
}

impl RateKey {
    /// The key of `ctx`, or `None` when the request has no value for it. Never allocates.
    pub(crate) fn of<'a>(&self, ctx: &'a RequestContext) -> Option<KeyOf<'a>> {
        let client = ctx.client.to_canonical();
        Some(match self {
            RateKey::Client => KeyOf { hash: KeyHash::of_ip(client), name: KeyName::Addr(client) },
            RateKey::Prefix => {
                let net = prefix_of(client);
                KeyOf { hash: KeyHash::of_ip(net.network()), name: KeyName::Net(net) }
            }
            RateKey::Route => {
                let route = ctx.route.as_ref()?;
                KeyOf { hash: KeyHash::of_bytes(route.name.as_bytes()), name: KeyName::Route(&route.name) }
            }
            RateKey::Header(name) => {
                let value = ctx.headers.get(name)?;
                KeyOf { hash: KeyHash::of_bytes(value.as_bytes()), name: KeyName::Hidden("header") }
            }
            RateKey::Cookie(name) => {
                let value = ctx.cookie(name)?;
                KeyOf { hash: KeyHash::of_bytes(value.as_bytes()), name: KeyName::Hidden("cookie") }
            }
        })
    }
}

/// The /24 of an IPv4 address or the /64 of an IPv6 one: the usual unit one subscriber or
/// one server holds.
pub(crate) fn prefix_of(addr: IpAddr) -> IpNet {
    match addr {
        IpAddr::V4(a) => Ipv4Net::new(a, 24).map(|n| IpNet::V4(n.trunc())),
        IpAddr::V6(a) => Ipv6Net::new(a, 64).map(|n| IpNet::V6(n.trunc())),
    }
    .unwrap_or_else(|_| IpNet::from(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_print_back() {
        for text in ["client", "prefix", "route", "header:x-api-key", "cookie:session"] {
            assert_eq!(text.parse::<RateKey>().unwrap().to_string(), text);
        }
        for bad in ["ip", "header:", "header:bad name", "cookie:", "cookie:a=b", "query:x"] {
            assert!(bad.parse::<RateKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_are_24_and_64() {
        assert_eq!(prefix_of("192.0.2.77".parse().unwrap()).to_string(), "192.0.2.0/24");
        assert_eq!(prefix_of("2001:db8:1:2:3:4:5:6".parse().unwrap()).to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn secret_keys_are_not_shown() {
        let mut ctx = RequestContext::for_test(http::Method::GET, "/", "192.0.2.1".parse().unwrap());
        ctx.headers.insert("x-api-key", "sk_live_secret".parse().unwrap());
        let key = RateKey::Header(HeaderName::from_static("x-api-key")).of(&ctx).unwrap();
        assert!(key.label().as_str().starts_with("header#"));
        assert!(RateKey::Cookie("session".into()).of(&ctx).is_none());
        assert!(RateKey::Route.of(&ctx).is_none());
    }
}
