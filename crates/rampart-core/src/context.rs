//! What a stage can see about a connection and a request.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{HeaderMap, Method, StatusCode, Uri, Version};

use crate::verdict::{Decision, Tag};

/// Facts about an accepted connection, known before any byte is read (and, for TLS, after
/// the handshake).
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The socket peer.
    pub peer: SocketAddr,
    /// The client's address: the socket peer, or what a trusted PROXY protocol header said.
    pub client: IpAddr,
    /// The local address the connection arrived on.
    pub local: SocketAddr,
    pub tls: Option<TlsFacts>,
}

/// What the TLS handshake told us: useful for fingerprints and for the log.
#[derive(Debug, Clone, Default)]
pub struct TlsFacts {
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub version: Option<&'static str>,
}

/// A request's id: unique per process, printed on every error page and log line so that an
/// operator can find the request a user reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(pub Arc<str>);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The route a request matched, as much as stages need of it.
#[derive(Debug, Clone)]
pub struct RouteInfo {
    /// The route's name (its index in config when the user gave none).
    pub name: Arc<str>,
    /// The upstream pool the route sends to.
    pub upstream: Arc<str>,
    /// Accesses are audited and exfiltration budgets apply.
    pub sensitive: bool,
}

/// One request as the pipeline sees it: the parsed head, the resolved client identity and
/// what stages have said so far.
#[derive(Debug)]
pub struct RequestContext {
    pub id: RequestId,
    pub started: Instant,
    pub wall_clock: SystemTime,
    pub peer: SocketAddr,
    /// The local address the request arrived on.
    pub local: SocketAddr,
    /// The client's address after trusted-proxy resolution (`X-Forwarded-For`, `Forwarded`,
    /// PROXY protocol); the socket peer when the peer is not trusted.
    pub client: IpAddr,
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    /// The host the request named (`Host` or the URI authority), lowercased, without port.
    pub host: Option<Arc<str>>,
    pub route: Option<RouteInfo>,
    pub tls: Option<TlsFacts>,
    /// Facts stages attached for later stages, the log and the audit trail.
    pub tags: Vec<Tag>,
    /// Every decision taken so far, enforced or not.
    pub decisions: Vec<Decision>,
    /// Who the request is, as far as the shield verified it: the priority class, a verified
    /// subject, a clearance. Filled by the priority and challenge stages, read by later stages
    /// (budgets per identity, login guard exemptions) and the log.
    pub identity: Identity,
    /// Per-request state a stage carries from one phase to the next (the WAF's transaction),
    /// keyed by type. Empty unless a stage puts something in.
    pub extensions: http::Extensions,
}

/// The priority class of every request no `[[priority]]` rule matches.
pub const PUBLIC_CLASS: &str = "public";

/// What the shield knows, verified, about who sent a request.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The priority class (`"staff"`, `"public"`, ...). Starts as [`PUBLIC_CLASS`].
    pub class: Arc<str>,
    /// A verified subject: the `sub` of a staff session JWT whose signature checked out.
    /// `None` when the class came from a network or an unverified marker.
    pub subject: Option<Arc<str>>,
    /// The id of a valid clearance token (the client passed a challenge). `None` otherwise.
    pub clearance: Option<Arc<str>>,
}

thread_local! {
    /// [`PUBLIC_CLASS`] made once per thread: every request starts in it, and a count
    /// (uncontended, the thread's own) costs less than an allocation.
    static PUBLIC: Arc<str> = Arc::from(PUBLIC_CLASS);
}

impl Default for Identity {
    fn default() -> Identity {
        let class = PUBLIC.try_with(Arc::clone).unwrap_or_else(|_| Arc::from(PUBLIC_CLASS));
        Identity { class, subject: None, clearance: None }
    }
}

impl Identity {
    /// True when the request is in the default class.
    pub fn is_public(&self) -> bool {
        &*self.class == PUBLIC_CLASS
    }
}

impl RequestContext {
    /// The request path without the query.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// A header's value as text, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A cookie's value from the `Cookie` header(s).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        cookie_in(&self.headers, name)
    }

    /// Attach a fact for later stages and the log.
    pub fn tag(&mut self, key: &'static str, value: impl Into<String>) {
        self.tags.push(Tag { key, value: value.into() });
    }

    /// A minimal context for tests and tools: `GET uri` from `client`.
    pub fn for_test(method: Method, uri: &str, client: IpAddr) -> RequestContext {
        let mut ctx = RequestContext::for_head(method, uri, client, SocketAddr::new(client, 40000), SocketAddr::new(client, 80), HeaderMap::new());
        ctx.id = RequestId(Arc::from("test"));
        ctx
    }

    /// A context for a request head read ahead of its serving (to learn who sent it, see
    /// [`crate::Pipeline::identify`]): no route, no id of its own (`-`).
    pub fn for_head(method: Method, uri: &str, client: IpAddr, peer: SocketAddr, local: SocketAddr, headers: HeaderMap) -> RequestContext {
        RequestContext {
            id: RequestId(Arc::from("-")),
            started: Instant::now(),
            wall_clock: SystemTime::now(),
            peer,
            local,
            client,
            method,
            uri: uri.parse().unwrap_or_else(|_| Uri::from_static("/")),
            version: Version::HTTP_11,
            headers,
            host: None,
            route: None,
            tls: None,
            tags: Vec::new(),
            decisions: Vec::new(),
            identity: Identity::default(),
            extensions: http::Extensions::new(),
        }
    }
}

/// A cookie's value from the `Cookie` header(s) of `headers`.
pub fn cookie_in<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The upstream's response head, as stages see it in the response phases.
#[derive(Debug, Clone)]
pub struct ResponseFacts {
    pub status: StatusCode,
    pub headers: HeaderMap,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_found_among_several() {
        let mut ctx = RequestContext::for_test(Method::GET, "/", "127.0.0.1".parse().unwrap());
        ctx.headers.append(http::header::COOKIE, "a=1; session=abc".parse().unwrap());
        ctx.headers.append(http::header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(ctx.cookie("session"), Some("abc"));
        assert_eq!(ctx.cookie("b"), Some("2"));
        assert_eq!(ctx.cookie("missing"), None);
    }
}
