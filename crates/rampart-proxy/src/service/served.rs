//! What a connection's requests share: the proxy, the connection's facts, and what its last
//! request had that the next one usually has too.

use std::sync::Arc;

use parking_lot::Mutex;

use super::ConnMeta;
use crate::forward::ForwardMemo;
use crate::runtime::Proxy;

/// A connection being served: the proxy and what is known of the connection, one reference
/// count per connection. A request takes a reference to this, not to the proxy itself, whose
/// count every worker would write on every request (see [`crate::shard`]).
pub struct Served {
    pub proxy: Arc<Proxy>,
    pub meta: ConnMeta,
    /// The forwarding lines of the connection's last request.
    pub forward: ForwardMemo,
    /// The host of the connection's last request.
    pub host: HostMemo,
}

impl Served {
    pub fn new(proxy: Arc<Proxy>, meta: ConnMeta) -> Served {
        Served { proxy, meta, forward: ForwardMemo::default(), host: HostMemo::default() }
    }
}

/// A connection's last request host, as it came and as read: a connection's requests name one
/// host, and reading it afresh (checked, port cut, lower-cased into a new string) was ~350
/// instructions a request (callgrind, bench/proxy-cost.sh).
#[derive(Default)]
pub struct HostMemo(Mutex<Option<HostRead>>);

/// A `Host` as it came (or an absolute target's host) and what was read from it.
type HostRead = (Box<[u8]>, Option<Arc<str>>);

impl HostMemo {
    /// The request's host (see [`request_host`]), as the last request had it when it came
    /// the same.
    pub(super) fn host_of(&self, parts: &http::request::Parts) -> Option<Arc<str>> {
        let raw = match parts.uri.host() {
            Some(h) => h.as_bytes(),
            None => parts.headers.get(http::header::HOST)?.as_bytes(),
        };
        let mut last = self.0.lock();
        if let Some((_, host)) = last.as_ref().filter(|(bytes, _)| **bytes == *raw) {
            return host.clone();
        }
        let host = super::request_host(parts).map(Arc::from);
        if raw.len() <= 256 {
            *last = Some((Box::from(raw), host.clone()));
        }
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(uri: &str, host: Option<&str>) -> http::request::Parts {
        let mut req = Request::get(uri);
        if let Some(host) = host {
            req = req.header(http::header::HOST, host);
        }
        req.body(()).unwrap().into_parts().0
    }

    /// A connection's requests through one memo read each host as they would without it.
    #[test]
    fn a_remembered_host_is_the_host_read_afresh() {
        let memo = HostMemo::default();
        let cases = [
            ("/", Some("Campaign.Example.org:8080")),
            ("/", Some("Campaign.Example.org:8080")),
            ("/", Some("campaign.example.org")),
            ("/", Some("[2001:DB8::1]:443")),
            ("/", None),
            ("http://Other.Example/x", None),
            ("http://other.example/x", Some("ignored.example")),
            ("/", Some("campaign.example.org")),
        ];
        for (uri, host) in cases {
            let p = parts(uri, host);
            assert_eq!(memo.host_of(&p).as_deref(), crate::service::request_host(&p).as_deref(), "{uri} {host:?}");
        }
        assert_eq!(memo.host_of(&parts("/", Some("A.Example:1"))).as_deref(), Some("a.example"));
    }
}
