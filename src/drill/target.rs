//! Where a drill may send: the target URL, its addresses, and the decision that keeps a drill
//! off machines nobody meant to attack.
//!
//! The decision ([`permit`]) runs on the addresses the target resolved to, once, before any
//! socket is opened; the drill then connects to exactly those addresses and never resolves the
//! name again, so a name that changes its answer mid-drill cannot move the traffic elsewhere.

use std::net::{IpAddr, SocketAddr};

use rampart_config::DrillTarget;

/// A checked target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The host as written in the URL (lowercase, IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// `Host` header value: the URL's authority.
    pub authority: String,
    /// The URL's path, `/` when absent; prefixed to scenario paths that are relative.
    pub base_path: String,
    /// What the host resolved to (the drill connects to the first).
    pub addrs: Vec<IpAddr>,
    /// Every address is loopback (source-address binding is allowed only then).
    pub loopback: bool,
}

impl Target {
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addrs[0], self.port)
    }
}

/// The parts of `http://host[:port][/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub authority: String,
    pub path: String,
}

/// Parse a plain-HTTP URL. Query strings and fragments are refused (scenarios make their own).
pub fn parse_url(s: &str) -> Result<Url, String> {
    let rest = if let Some(r) = s.strip_prefix("http://") {
        r
    } else if s.starts_with("https://") {
        return Err(format!("`{s}`: https targets are not supported; drill the plain-HTTP listener"));
    } else {
        return Err(format!("`{s}`: expected a URL such as http://127.0.0.1:8080/"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if path.contains(['?', '#']) || path.contains(char::is_whitespace) {
        return Err(format!("`{s}`: the target URL takes no query, fragment or spaces"));
    }
    if authority.contains('@') {
        return Err(format!("`{s}`: credentials in the URL are not supported"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| format!("`{s}`: unclosed `[` in the host"))?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("`{s}`: no host"));
    }
    let port = match port {
        None => 80,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("`{s}`: bad port `{p}`"))?,
    };
    Ok(Url { host: host.to_ascii_lowercase(), port, authority: authority.to_string(), path: path.to_string() })
}

/// `HOST=ADDR[,ADDR...]` from `--resolve`.
pub fn parse_resolve(s: &str) -> Result<(String, Vec<IpAddr>), String> {
    let (host, addrs) = s.split_once('=').ok_or_else(|| format!("--resolve `{s}`: expected HOST=ADDR[,ADDR...]"))?;
    let addrs = addrs
        .split(',')
        .map(|a| a.trim().parse::<IpAddr>().map_err(|_| format!("--resolve `{s}`: `{a}` is not an IP address")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((host.trim().trim_end_matches('.').to_ascii_lowercase(), addrs))
}

/// The addresses of `url`'s host: itself if it is an address, else the `--resolve` entry for
/// it, else the system resolver's answer.
pub async fn resolve(url: &Url, overrides: &[(String, Vec<IpAddr>)]) -> Result<Vec<IpAddr>, String> {
    if let Ok(ip) = url.host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let name = url.host.trim_end_matches('.');
    if let Some((_, addrs)) = overrides.iter().find(|(h, _)| h == name) {
        return Ok(addrs.clone());
    }
    let found = tokio::net::lookup_host((name, url.port)).await.map_err(|e| format!("cannot resolve `{name}`: {e}"))?;
    let mut addrs: Vec<IpAddr> = Vec::new();
    for a in found {
        if !addrs.contains(&a.ip()) {
            addrs.push(a.ip());
        }
    }
    Ok(addrs)
}

/// Why a target may be drilled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permit {
    /// Every address is loopback (127.0.0.0/8, ::1).
    Loopback,
    /// The configuration's `[drill] targets` names the host, or every one of its addresses.
    Named,
}

/// The target-safety decision: `host` (as in the URL) resolved to `addrs`; `allowed` is
/// `[drill] targets`. Refused unless every address is loopback, or the host name is listed,
/// or every address is listed. The error says what was found and how to allow it.
pub fn permit(host: &str, addrs: &[IpAddr], allowed: &[DrillTarget]) -> Result<Permit, String> {
    if addrs.is_empty() {
        return Err(format!("`{host}` resolved to no address"));
    }
    if addrs.iter().all(|a| is_loopback(*a)) {
        return Ok(Permit::Loopback);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let named_host = allowed.iter().any(|t| matches!(t, DrillTarget::Host(h) if *h == name));
    let named_addrs = addrs.iter().all(|a| allowed.iter().any(|t| matches!(t, DrillTarget::Address(x) if x.to_canonical() == a.to_canonical())));
    if named_host || named_addrs {
        return Ok(Permit::Named);
    }
    let elsewhere: Vec<String> = addrs.iter().filter(|a| !is_loopback(**a)).map(|a| a.to_string()).collect();
    Err(format!(
        "refusing to drill `{host}`: it resolves to {} (not loopback), and no `[drill] targets` entry names it{}. \
         A drill is an attack: aim it only at your own staging deployment, and name that in the configuration \
         given with --config, e.g. [drill] targets = [\"{host}\"]",
        elsewhere.join(", "),
        if allowed.is_empty() { " (no configuration names any target)" } else { "" },
    ))
}

pub fn is_loopback(a: IpAddr) -> bool {
    a.to_canonical().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:8080/").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("127.0.0.1", 8080, "/"));
        let u = parse_url("http://Staging.Example.org").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str(), u.authority.as_str()), ("staging.example.org", 80, "/", "Staging.Example.org"));
        let u = parse_url("http://[::1]:9/app").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("::1", 9, "/app"));
        for bad in ["https://x/", "ftp://x/", "http://:80/", "http://x:0/", "http://x/?a=1", "http://u@x/", "127.0.0.1:8080"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_is_always_allowed() {
        assert_eq!(permit("localhost", &[ip("127.0.0.1"), ip("::1")], &[]), Ok(Permit::Loopback));
        assert_eq!(permit("127.9.8.7", &[ip("127.9.8.7")], &[]), Ok(Permit::Loopback));
        assert_eq!(permit("x", &[ip("::ffff:127.0.0.1")], &[]), Ok(Permit::Loopback));
    }

    #[test]
    fn elsewhere_is_refused_unless_named() {
        let e = permit("192.0.2.10", &[ip("192.0.2.10")], &[]).unwrap_err();
        assert!(e.contains("192.0.2.10") && e.contains("[drill] targets"), "{e}");
        // A name that resolves partly to loopback and partly elsewhere is not loopback.
        assert!(permit("mixed.test", &[ip("127.0.0.1"), ip("192.0.2.10")], &[]).is_err());
        assert!(permit("x", &[], &[DrillTarget::Host("x".into())]).is_err());
    }

    #[test]
    fn named_host_or_every_address() {
        let allowed = [DrillTarget::Host("staging.example.org".into()), DrillTarget::Address(ip("10.0.0.5"))];
        assert_eq!(permit("Staging.Example.org.", &[ip("192.0.2.10")], &allowed), Ok(Permit::Named));
        assert_eq!(permit("10.0.0.5", &[ip("10.0.0.5")], &allowed), Ok(Permit::Named));
        assert_eq!(permit("app.internal", &[ip("10.0.0.5")], &allowed), Ok(Permit::Named));
        // One address of the name is not listed: refused.
        assert!(permit("app.internal", &[ip("10.0.0.5"), ip("10.0.0.6")], &allowed).is_err());
        assert!(permit("other.example.org", &[ip("192.0.2.10")], &allowed).is_err());
    }

    #[test]
    fn resolve_overrides() {
        assert_eq!(parse_resolve("Staging.Example.org=192.0.2.10, 127.0.0.1").unwrap(), ("staging.example.org".into(), vec![ip("192.0.2.10"), ip("127.0.0.1")]));
        assert!(parse_resolve("x").is_err());
        assert!(parse_resolve("x=nope").is_err());
    }
}
