//! Route selection: host, then the longest matching path prefix.

use std::sync::Arc;

use rampart_core::RouteInfo;

use crate::settings::RouteSettings;

/// The routes, ordered so that the first match is the most specific.
#[derive(Debug, Clone)]
pub struct Router {
    routes: Vec<(RouteSettings, RouteInfo)>,
}

impl Router {
    pub fn new(mut routes: Vec<RouteSettings>) -> Router {
        // Host-specific routes before any-host ones; longer prefixes before shorter.
        routes.sort_by(|a, b| {
            b.host.is_some().cmp(&a.host.is_some()).then(b.path_prefix.len().cmp(&a.path_prefix.len()))
        });
        let routes = routes
            .into_iter()
            .map(|r| {
                let info = RouteInfo {
                    name: Arc::from(r.name.as_str()),
                    upstream: Arc::from(r.upstream.as_str()),
                    sensitive: r.sensitive,
                };
                (r, info)
            })
            .collect();
        Router { routes }
    }

    /// The route for `host` (lowercase, no port) and `path`.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&RouteInfo> {
        self.routes.get(self.position(host, path)?).map(|(_, info)| info)
    }

    /// The place in [`Router::infos`] of the route for `host` and `path`.
    pub fn position(&self, host: Option<&str>, path: &str) -> Option<usize> {
        self.routes.iter().position(|(r, _)| {
            let host_ok = match (&r.host, host) {
                (None, _) => true,
                (Some(want), Some(got)) => host_matches(want, got),
                (Some(_), None) => false,
            };
            host_ok && prefix_matches(&r.path_prefix, path)
        })
    }

    /// The settings of the route at `at` (a [`Router::position`]).
    pub fn settings(&self, at: usize) -> Option<&RouteSettings> {
        self.routes.get(at).map(|(settings, _)| settings)
    }

    /// The routes, in the order they are tried.
    pub fn infos(&self) -> impl Iterator<Item = &RouteInfo> {
        self.routes.iter().map(|(_, info)| info)
    }
}

/// Exact, or one leading wildcard label: `*.example.org` matches `www.example.org`, not
/// `example.org` and not `a.b.example.org`.
fn host_matches(want: &str, got: &str) -> bool {
    match want.strip_prefix("*.") {
        Some(suffix) => got
            .strip_suffix(suffix)
            .and_then(|label| label.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        None => want == got,
    }
}

/// `/contacts` matches `/contacts`, `/contacts/7` and `/contacts?x`, not `/contactsfoo`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" || prefix.is_empty() {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, host: Option<&str>, path: &str) -> RouteSettings {
        RouteSettings {
            name: name.into(),
            host: host.map(Into::into),
            path_prefix: path.into(),
            upstream: "app".into(),
            sensitive: false,
            websocket: true,
        }
    }

    #[test]
    fn most_specific_route_wins() {
        let r = Router::new(vec![
            route("root", None, "/"),
            route("contacts", None, "/contacts"),
            route("site", Some("campaign.example.org"), "/"),
        ]);
        assert_eq!(&*r.find(None, "/contacts/7").unwrap().name, "contacts");
        assert_eq!(&*r.find(None, "/contactsfoo").unwrap().name, "root");
        assert_eq!(&*r.find(Some("campaign.example.org"), "/contacts").unwrap().name, "site");
        assert_eq!(&*r.find(Some("other.example"), "/x").unwrap().name, "root");
        let wild = Router::new(vec![route("wild", Some("*.example.org"), "/")]);
        assert!(wild.find(Some("www.example.org"), "/").is_some());
        assert!(wild.find(Some("example.org"), "/").is_none());
        assert!(wild.find(Some("a.b.example.org"), "/").is_none());
        let none = Router::new(vec![route("only", Some("a.example"), "/")]);
        assert!(none.find(Some("b.example"), "/").is_none());
    }
}
