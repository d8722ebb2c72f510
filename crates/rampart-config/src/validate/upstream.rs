//! `[[upstream]]` and `[[route]]`.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::{nz, Balance, ForwardHeaders, HealthCheck, Route, Upstream, UpstreamServer};
use crate::raw::{RawRoute, RawUpstream, Str, StrList};
use crate::suggest::did_you_mean;

use super::values::{choice, count, duration, flag, name, url_path};

/// `[[upstream]]`: unique names, at least one well-formed server, sane health checks.
pub(crate) fn upstreams(ctx: &mut Ctx<'_>, raw: &[RawUpstream]) -> Vec<Upstream> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for u in raw {
        let upstream_name = name(ctx, "name", &u.name);
        if let Some(n) = &upstream_name {
            if !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
                ctx.invalid(&u.name.span(), format!("`name`: use letters, digits, `-`, `_` and `.` only, found \"{n}\""));
            }
            if let Some(first) = seen.insert(n.clone(), u.name.span().start) {
                let (line, _) = ctx.position(first);
                ctx.error(Some(&u.name.span()), ErrorKind::Duplicate, format!("upstream `{n}` is already defined on line {line}"));
            }
        }
        if u.servers.get_ref().is_empty() {
            ctx.invalid(&u.servers.span(), "`servers` is empty: list at least one, such as [\"127.0.0.1:9100\"]");
        }
        let servers: Vec<UpstreamServer> = u.servers.get_ref().iter().filter_map(|s| server(ctx, s)).collect();
        let balance = choice(
            ctx,
            "balance",
            &u.balance,
            &[("round_robin", Balance::RoundRobin), ("least_conn", Balance::LeastConn)],
            Balance::RoundRobin,
        );
        let connect_timeout = duration(ctx, "connect_timeout", &u.connect_timeout, std::time::Duration::from_secs(5));
        let read_timeout = duration(ctx, "read_timeout", &u.read_timeout, std::time::Duration::from_secs(60));
        let health = u.health.as_ref().map(|h| {
            let check = HealthCheck {
                path: h.path.as_ref().and_then(|p| url_path(ctx, "path", p)).unwrap_or_else(|| "/".to_string()),
                interval: duration(ctx, "interval", &h.interval, std::time::Duration::from_secs(5)),
                timeout: duration(ctx, "timeout", &h.timeout, std::time::Duration::from_secs(2)),
                healthy_threshold: count(ctx, "healthy_threshold", &h.healthy_threshold, nz(2)),
                unhealthy_threshold: count(ctx, "unhealthy_threshold", &h.unhealthy_threshold, nz(3)),
            };
            if check.timeout >= check.interval {
                let at = h.timeout.as_ref().or(h.interval.as_ref()).map(|t| t.span()).unwrap_or(u.name.span());
                ctx.error(
                    Some(&at),
                    ErrorKind::Inconsistent,
                    format!("health `timeout` ({:?}) must be shorter than `interval` ({:?})", check.timeout, check.interval),
                );
            }
            check
        });
        let max_connections = u.max_connections.as_ref().map(|m| count(ctx, "max_connections", &Some(m.clone()), nz(1)));
        let forward_headers = u.forward_headers.as_ref().map_or(ForwardHeaders::ALL, |list| forward_headers(ctx, list));
        out.push(Upstream {
            name: upstream_name.unwrap_or_default(),
            servers,
            balance,
            connect_timeout,
            read_timeout,
            health,
            max_connections,
            forward_headers,
        });
    }
    out
}

/// `forward_headers = ["x-forwarded-for", ...]`: each one of the five fields, once; `[]` sends
/// none.
fn forward_headers(ctx: &mut Ctx<'_>, list: &StrList) -> ForwardHeaders {
    let names: Vec<&str> = ForwardHeaders::NAMES.iter().map(|(n, _)| *n).collect();
    let mut set = ForwardHeaders::NONE;
    for v in list.get_ref() {
        let word = v.get_ref().trim();
        match ForwardHeaders::named(word) {
            Some(field) if set.contains(field) => {
                ctx.error(Some(&v.span()), ErrorKind::Duplicate, format!("`forward_headers`: \"{word}\" is listed twice"));
            }
            Some(field) => set = set.with(field),
            None => ctx.invalid(
                &v.span(),
                format!(
                    "`forward_headers`: expected {}, found \"{word}\"{}",
                    crate::suggest::one_of(&names),
                    did_you_mean(word, names.iter().copied())
                ),
            ),
        }
    }
    set
}

/// `"127.0.0.1:9100"`, `"[::1]:9100"` or `"app.internal:9100"`.
fn server(ctx: &mut Ctx<'_>, v: &Str) -> Option<UpstreamServer> {
    let s = v.get_ref().trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        if a.port() != 0 {
            return Some(UpstreamServer { host: a.ip().to_string(), port: a.port() });
        }
    }
    let parsed = s.rsplit_once(':').and_then(|(host, port)| {
        let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
        let ok = !host.is_empty()
            && host.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        ok.then(|| UpstreamServer { host: host.to_ascii_lowercase(), port })
    });
    if parsed.is_none() {
        ctx.invalid(&v.span(), format!("`servers`: expected \"host:port\" such as \"127.0.0.1:9100\" or \"app.internal:8080\", found \"{s}\""));
    }
    parsed
}

/// `[[route]]`: each names a defined upstream; names and (host, path) pairs are unique. With
/// no route at all, a single upstream gets a catch-all route.
pub(crate) fn routes(ctx: &mut Ctx<'_>, raw: &[RawRoute], upstreams: &[Upstream], check_refs: bool, complete: bool) -> Vec<Route> {
    let mut out = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut pairs: HashMap<(Option<String>, String), usize> = HashMap::new();
    for r in raw {
        let at = r.upstream.span().start;
        let host = r.host.as_ref().and_then(|h| host(ctx, h));
        let path = match &r.path {
            Some(p) => url_path(ctx, "path", p),
            None => Some("/".to_string()),
        };
        let upstream = r.upstream.get_ref().clone();
        let index = upstreams.iter().position(|u| u.name == upstream);
        if index.is_none() && check_refs {
            let known: Vec<&str> = upstreams.iter().map(|u| u.name.as_str()).collect();
            let hint = if known.is_empty() {
                "; no [[upstream]] is defined".to_string()
            } else {
                format!("{}; defined: {}", did_you_mean(&upstream, known.iter().copied()), crate::suggest::one_of(&known))
            };
            ctx.error(Some(&r.upstream.span()), ErrorKind::UnknownReference, format!("route's `upstream = \"{upstream}\"` names no [[upstream]]{hint}"));
        }
        let Some(path) = path else { continue };
        let route_name = match &r.name {
            Some(n) => name(ctx, "name", n).unwrap_or_default(),
            None => format!("{}{}", host.clone().unwrap_or_default(), path),
        };
        let name_at = r.name.as_ref().map(|n| n.span()).unwrap_or(r.upstream.span());
        if let Some(first) = names.insert(route_name.clone(), name_at.start) {
            let (line, _) = ctx.position(first);
            ctx.error(Some(&name_at), ErrorKind::Duplicate, format!("route name `{route_name}` is already used by the route on line {line}; set a distinct `name`"));
        } else if let Some(first) = pairs.insert((host.clone(), path.clone()), at) {
            let (line, _) = ctx.position(first);
            ctx.error(Some(&name_at), ErrorKind::Duplicate, format!("this route has the same host and path as the route on line {line}, so it would never match"));
        }
        out.push(Route {
            name: route_name,
            host,
            path,
            upstream,
            upstream_index: index.unwrap_or(0),
            sensitive: flag(&r.sensitive, false),
            websocket: flag(&r.websocket, true),
        });
    }
    if raw.is_empty() && complete {
        if upstreams.len() == 1 {
            let u = &upstreams[0];
            out.push(Route { name: "/".into(), host: None, path: "/".into(), upstream: u.name.clone(), upstream_index: 0, sensitive: false, websocket: true });
        } else if check_refs {
            ctx.error(
                Some(&(0..0)),
                ErrorKind::MissingKey,
                "no [[route]]: add one, such as `[[route]]` with `path = \"/\"` and `upstream = \"app\"` (a file with exactly one [[upstream]] and no route sends everything there)",
            );
        }
    }
    out
}

/// `"campaign.example.org"` or `"*.example.org"`, lower-cased; a port is not part of it.
fn host(ctx: &mut Ctx<'_>, v: &Str) -> Option<String> {
    let s = v.get_ref().trim().to_ascii_lowercase();
    let body = s.strip_prefix("*.").unwrap_or(&s);
    let ok = !body.is_empty()
        && body.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !ok {
        ctx.invalid(&v.span(), format!("`host`: expected a host name such as \"campaign.example.org\" or \"*.example.org\" (no port, no scheme), found \"{}\"", v.get_ref()));
        return None;
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::Balance;
    use crate::testing::{errs, ok, raw_errs};

    #[test]
    fn upstream_defaults_and_values() {
        let c = ok("");
        let u = &c.upstreams[0];
        assert_eq!((u.balance, u.connect_timeout, u.read_timeout), (Balance::RoundRobin, Duration::from_secs(5), Duration::from_secs(60)));
        let c = ok("[[upstream]]\nname = \"api\"\nservers = [\"[::1]:81\", \"api.internal:8080\"]\nbalance = \"least_conn\"\nhealth = { interval = \"10s\" }\n[[route]]\nupstream = \"api\"\n");
        let u = &c.upstreams[1];
        assert_eq!(u.servers[0].to_string(), "[::1]:81");
        assert_eq!(u.servers[1].host, "api.internal");
        let h = u.health.as_ref().unwrap();
        assert_eq!((h.path.as_str(), h.timeout, h.healthy_threshold.get(), h.unhealthy_threshold.get()), ("/", Duration::from_secs(2), 2, 3));
    }

    #[test]
    fn upstream_mistakes() {
        let e = errs("[[upstream]]\nname = \"app\"\nservers = []\nbalance = \"random\"\nhealth = { interval = \"1s\", timeout = \"2s\" }\n[[upstream]]\nname = \"b\"\nservers = [\"nope\", \"h:0\"]\n[[route]]\nupstream = \"b\"\n");
        assert!(e[0].contains("upstream `app` is already defined on line 5"), "{e:?}");
        assert!(e[1].contains("`servers` is empty"), "{e:?}");
        assert!(e[2].contains("`balance`: expected `round_robin` or `least_conn`"), "{e:?}");
        assert!(e[3].contains("must be shorter than `interval`"), "{e:?}");
        assert!(e[4].contains("expected \"host:port\""), "{e:?}");
        assert!(e[5].contains("expected \"host:port\""), "{e:?}");
        assert_eq!(e.len(), 6, "{e:?}");
    }

    #[test]
    fn routes() {
        let c = ok("[[route]]\nhost = \"*.Example.org\"\npath = \"/api\"\nupstream = \"app\"\nsensitive = true\n[[route]]\nname = \"rest\"\nupstream = \"app\"\n");
        assert_eq!(c.routes[0].name, "*.example.org/api");
        assert_eq!(c.routes[0].host.as_deref(), Some("*.example.org"));
        assert!(c.routes[0].sensitive);
        assert_eq!((c.routes[1].name.as_str(), c.routes[1].path.as_str()), ("rest", "/"));
        assert!(c.routes.iter().all(|r| r.websocket));
        let c = ok("[[route]]\npath = \"/api\"\nupstream = \"app\"\nwebsocket = false\n");
        assert!(!c.routes[0].websocket);
        assert!(errs("[[route]]\nupstream = \"app\"\nwebsocket = \"no\"\n")[0].contains("websocket"));
    }

    #[test]
    fn route_mistakes() {
        let e = errs("[[route]]\npath = \"api\"\nupstream = \"app\"\n[[route]]\nhost = \"http://x\"\nupstream = \"missing\"\n[[route]]\nupstream = \"app\"\n[[route]]\nupstream = \"app\"\n");
        assert!(e[0].contains("expected a path starting with `/`"), "{e:?}");
        assert!(e[1].contains("expected a host name"), "{e:?}");
        assert!(e[2].contains("names no [[upstream]]"), "{e:?}");
        assert!(e[3].contains("route name `/` is already used by the route on line 13"), "{e:?}");
        assert_eq!(e.len(), 5, "{e:?}");
    }

    #[test]
    fn no_route_needs_exactly_one_upstream() {
        let e = raw_errs("[[listener]]\naddress = \"127.0.0.1:1\"\n[[upstream]]\nname = \"a\"\nservers = [\"127.0.0.1:2\"]\n[[upstream]]\nname = \"b\"\nservers = [\"127.0.0.1:3\"]\n");
        assert!(e[0].starts_with("1:1: no [[route]]"), "{e:?}");
    }
}
