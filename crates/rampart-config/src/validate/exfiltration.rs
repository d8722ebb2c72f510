//! `[[exfiltration]]`.

use std::collections::BTreeSet;
use std::time::Duration;

use rampart_core::StageMode;

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::{Budget, Enumeration, Exfiltration, ExfiltrationAction, Identity, Priority, RecordSource, Route};
use crate::raw::{RawEnumeration, RawExfiltration, Str};
use crate::suggest::did_you_mean;

use super::rate_limit::route_ref;
use super::values::{choice, int_in, mode, required_count, required_duration, required_size};

/// What the cross-reference checks may rely on.
pub(crate) struct Known<'a> {
    /// The routes, when every `[[route]]` could be read.
    pub routes: Option<&'a [Route]>,
    /// The priority classes, when every `[[priority]]` could be read.
    pub priorities: Option<&'a [Priority]>,
}

/// `[[exfiltration]]`: the route exists and is sensitive; the identity's classes exist; the
/// budget has records or bytes.
pub(crate) fn exfiltration(ctx: &mut Ctx<'_>, raw: &[RawExfiltration], known: &Known<'_>, global: StageMode) -> Vec<Exfiltration> {
    let mut out = Vec::new();
    for e in raw {
        let mut path = e.route.get_ref().clone();
        if let Some(routes) = known.routes {
            if let Some(route) = route_ref(ctx, "route", &e.route, routes) {
                path = route.path.clone();
                if !route.sensitive {
                    ctx.error(
                        Some(&e.route.span()),
                        ErrorKind::Inconsistent,
                        format!("route \"{}\" is not marked `sensitive = true`; exfiltration budgets apply to sensitive routes only", e.route.get_ref()),
                    );
                }
            }
        }
        let identity = match &e.identity {
            Some(v) => identity(ctx, v, known.priorities),
            None => vec![Identity::Client],
        };
        let b = &e.budget;
        let requests = b.requests.as_ref().and_then(|r| required_count(ctx, "requests", r));
        let records = b.records.as_ref().and_then(|r| required_count(ctx, "records", r));
        let bytes = b.bytes.as_ref().and_then(|s| required_size(ctx, "bytes", s));
        let per = required_duration(ctx, "per", &b.per).unwrap_or_default();
        if b.records.is_none() && b.bytes.is_none() && b.requests.is_none() {
            ctx.error(Some(&b.per.span()), ErrorKind::MissingKey, "`budget` needs `requests`, `records` or `bytes`, such as { records = 500, bytes = \"5MiB\", per = \"10m\" }");
        }
        let actions = [
            ("block", ExfiltrationAction::Block),
            ("throttle", ExfiltrationAction::Throttle),
            ("challenge", ExfiltrationAction::Challenge),
            ("alert", ExfiltrationAction::Alert),
        ];
        let action = choice(ctx, "action", &e.action, &actions, ExfiltrationAction::Block);
        let never_leave = e.never_leave.as_ref().map(|l| l.get_ref().iter().filter_map(|p| pattern(ctx, p)).collect()).unwrap_or_default();
        out.push(Exfiltration {
            route: e.route.get_ref().clone(),
            path,
            identity,
            budget: Budget { requests, records, bytes, per },
            records_from: e.records_from.as_ref().map(|r| records_from(ctx, r)).unwrap_or_default(),
            enumeration: e.enumeration.as_ref().and_then(|n| enumeration(ctx, n, per)),
            never_leave,
            action,
            mode: mode(ctx, &e.mode, global),
        });
    }
    out
}

/// `never_leave` entry: a regular expression over the response bytes.
fn pattern(ctx: &mut Ctx<'_>, v: &Str) -> Option<regex::bytes::Regex> {
    match regex::bytes::Regex::new(v.get_ref()) {
        Ok(re) => Some(re),
        Err(e) => {
            let why = e.to_string().lines().last().unwrap_or("").trim().to_string();
            ctx.invalid(&v.span(), format!("`never_leave`: not a valid regular expression: {why}"));
            None
        }
    }
}

/// `records_from`: `auto`, `json`, `csv` or `header:NAME`.
fn records_from(ctx: &mut Ctx<'_>, v: &Str) -> RecordSource {
    match v.get_ref().as_str() {
        "auto" => RecordSource::Auto,
        "json" => RecordSource::Json,
        "csv" => RecordSource::Csv,
        other => match other.split_once(':') {
            Some(("header", h)) if !h.is_empty() => RecordSource::Header(h.to_ascii_lowercase()),
            _ => {
                ctx.invalid(&v.span(), format!("`records_from`: expected \"auto\", \"json\", \"csv\" or \"header:NAME\" (such as \"header:X-Record-Count\"), found \"{other}\""));
                RecordSource::Auto
            }
        },
    }
}

/// `[exfiltration.enumeration]`: `ids` holds `{id}` once, after a `/`.
fn enumeration(ctx: &mut Ctx<'_>, raw: &RawEnumeration, per: Duration) -> Option<Enumeration> {
    let ids = raw.ids.get_ref();
    let parts = ids.split_once("{id}").filter(|(p, s)| p.starts_with('/') && p.ends_with('/') && !s.contains("{id}"));
    let mut n = |key: &str, v: &Option<crate::raw::Int>, default: u32| match v {
        Some(v) => int_in(ctx, key, v, 1, 10_000_000).map(|n| n as u32).unwrap_or(default),
        None => default,
    };
    let max_ids = n("max_ids", &raw.max_ids, 100);
    let max_steps = n("max_steps", &raw.max_steps, 20);
    let max_steps_all = n("max_steps_all", &raw.max_steps_all, 20);
    let per = match &raw.per {
        Some(p) => required_duration(ctx, "per", p).unwrap_or(per),
        None => per,
    };
    let Some((prefix, suffix)) = parts else {
        ctx.invalid(&raw.ids.span(), format!("`ids`: expected a path with `{{id}}` as one segment, such as \"/contacts/{{id}}\", found \"{ids}\""));
        return None;
    };
    Some(Enumeration { prefix: prefix.to_string(), suffix: suffix.to_string(), max_ids, max_steps, max_steps_all, per })
}

/// `"staff:session|client"`: alternatives, tried left to right.
fn identity(ctx: &mut Ctx<'_>, v: &Str, priorities: Option<&[Priority]>) -> Vec<Identity> {
    let mut out = Vec::new();
    for part in v.get_ref().split('|').map(str::trim) {
        let id = match part.split_once(':') {
            None => match part {
                "client" => Some(Identity::Client),
                "prefix" => Some(Identity::Prefix),
                "clearance" => Some(Identity::Clearance),
                _ => None,
            },
            Some(("header", h)) if !h.is_empty() => Some(Identity::Header(h.to_ascii_lowercase())),
            Some(("cookie", c)) if !c.is_empty() => Some(Identity::Cookie(c.to_string())),
            Some((class, cookie)) if !class.is_empty() && !cookie.is_empty() => {
                if let Some(p) = priorities {
                    let classes: BTreeSet<&str> = p.iter().map(|p| p.class.as_str()).collect();
                    if !classes.contains(class) {
                        ctx.error(
                            Some(&v.span()),
                            ErrorKind::UnknownReference,
                            format!("`identity`: `{class}` is not a [[priority]] class{}", did_you_mean(class, classes.iter().copied())),
                        );
                    }
                }
                Some(Identity::Class { class: class.to_string(), cookie: cookie.to_string() })
            }
            _ => None,
        };
        match id {
            Some(id) => out.push(id),
            None => ctx.invalid(
                &v.span(),
                format!("`identity`: expected alternatives separated by `|` among `client`, `prefix`, `header:NAME`, `cookie:NAME` and `CLASS:COOKIE` (such as \"staff:session|client\"), found \"{part}\""),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::{ExfiltrationAction, Identity};
    use crate::testing::{errs, ok};

    const ROUTES: &str = "[[route]]\npath = \"/contacts\"\nupstream = \"app\"\nsensitive = true\n[[route]]\npath = \"/public\"\nupstream = \"app\"\n[[priority]]\nclass = \"staff\"\ncookie = \"session\"\n";

    #[test]
    fn values() {
        let c = ok(&format!("{ROUTES}[[exfiltration]]\nroute = \"/contacts\"\nidentity = \"staff:session|header:X-User|client\"\nbudget = {{ records = 500, per = \"10m\" }}\naction = \"alert\"\n"));
        let x = &c.exfiltration[0];
        assert_eq!(x.identity, vec![
            Identity::Class { class: "staff".into(), cookie: "session".into() },
            Identity::Header("x-user".into()),
            Identity::Client,
        ]);
        assert_eq!((x.budget.records.map(|r| r.get()), x.budget.bytes, x.budget.per), (Some(500), None, Duration::from_secs(600)));
        assert_eq!(x.action, ExfiltrationAction::Alert);
        assert_eq!((x.path.as_str(), &x.records_from, x.enumeration.is_none()), ("/contacts", &crate::model::RecordSource::Auto, true));
    }

    #[test]
    fn enumeration_and_patterns() {
        let c = ok(&format!("{ROUTES}[[exfiltration]]\nroute = \"/contacts\"\nidentity = \"clearance|prefix\"\nbudget = {{ requests = 60, per = \"1m\" }}\nrecords_from = \"header:X-Count\"\nnever_leave = ['\\$2[aby]\\$']\naction = \"challenge\"\nenumeration = {{ ids = \"/contacts/{{id}}\", max_steps = 5 }}\n"));
        let x = &c.exfiltration[0];
        assert_eq!(x.identity, vec![Identity::Clearance, Identity::Prefix]);
        assert_eq!(x.records_from, crate::model::RecordSource::Header("x-count".into()));
        assert!(x.never_leave[0].is_match(b"hash $2b$12$abc"));
        assert_eq!(x.action, ExfiltrationAction::Challenge);
        let n = x.enumeration.as_ref().unwrap();
        assert_eq!((n.prefix.as_str(), n.suffix.as_str(), n.max_ids, n.max_steps, n.per), ("/contacts/", "", 100, 5, Duration::from_secs(60)));
        let e = errs(&format!("{ROUTES}[[exfiltration]]\nroute = \"/contacts\"\nbudget = {{ requests = 60, per = \"1m\" }}\nrecords_from = \"xml\"\nnever_leave = [\"(\"]\nenumeration = {{ ids = \"/contacts/id\", max_ids = 0 }}\n"));
        assert!(e[0].contains("`records_from`: expected"), "{e:?}");
        assert!(e[1].contains("`never_leave`: not a valid regular expression"), "{e:?}");
        assert!(e.iter().any(|e| e.contains("`max_ids`")), "{e:?}");
        assert!(e.iter().any(|e| e.contains("`ids`: expected a path with `{id}`")), "{e:?}");
        assert_eq!(e.len(), 4, "{e:?}");
    }

    #[test]
    fn mistakes() {
        let e = errs(&format!("{ROUTES}[[exfiltration]]\nroute = \"/public\"\nidentity = \"boss:session|anyone\"\nbudget = {{ per = \"0s\" }}\n[[exfiltration]]\nroute = \"/contact\"\nbudget = {{ bytes = \"lots\", per = \"1h\" }}\n"));
        assert!(e[0].contains("is not marked `sensitive = true`"), "{e:?}");
        assert!(e[1].contains("`boss` is not a [[priority]] class"), "{e:?}");
        assert!(e[2].contains("found \"anyone\""), "{e:?}");
        assert!(e[3].contains("`budget` needs `requests`, `records` or `bytes`"), "{e:?}");
        assert!(e[4].contains("`per` must be longer than zero"), "{e:?}");
        assert!(e[5].contains("did you mean `/contacts`?"), "{e:?}");
        assert!(e[6].contains("`bytes`: expected a size"), "{e:?}");
        assert_eq!(e.len(), 7, "{e:?}");
    }
}
