//! `[[exfiltration]]`.

use std::collections::BTreeSet;

use rampart_core::StageMode;

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::{Budget, Exfiltration, ExfiltrationAction, Identity, Priority, Route};
use crate::raw::{RawExfiltration, Str};
use crate::suggest::did_you_mean;

use super::rate_limit::route_ref;
use super::values::{choice, mode, required_count, required_duration, required_size};

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
        if let Some(routes) = known.routes {
            if let Some(route) = route_ref(ctx, "route", &e.route, routes) {
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
        let records = b.records.as_ref().and_then(|r| required_count(ctx, "records", r));
        let bytes = b.bytes.as_ref().and_then(|s| required_size(ctx, "bytes", s));
        let per = required_duration(ctx, "per", &b.per);
        if b.records.is_none() && b.bytes.is_none() {
            ctx.error(Some(&b.per.span()), ErrorKind::MissingKey, "`budget` needs `records`, `bytes` or both, such as { records = 500, bytes = \"5MiB\", per = \"10m\" }");
        }
        let action = choice(ctx, "action", &e.action, &[("block", ExfiltrationAction::Block), ("alert", ExfiltrationAction::Alert)], ExfiltrationAction::Block);
        out.push(Exfiltration {
            route: e.route.get_ref().clone(),
            identity,
            budget: Budget { records, bytes, per: per.unwrap_or_default() },
            action,
            mode: mode(ctx, &e.mode, global),
        });
    }
    out
}

/// `"staff:session|client"`: alternatives, tried left to right.
fn identity(ctx: &mut Ctx<'_>, v: &Str, priorities: Option<&[Priority]>) -> Vec<Identity> {
    let mut out = Vec::new();
    for part in v.get_ref().split('|').map(str::trim) {
        let id = match part.split_once(':') {
            None => match part {
                "client" => Some(Identity::Client),
                "prefix" => Some(Identity::Prefix),
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
    }

    #[test]
    fn mistakes() {
        let e = errs(&format!("{ROUTES}[[exfiltration]]\nroute = \"/public\"\nidentity = \"boss:session|anyone\"\nbudget = {{ per = \"0s\" }}\n[[exfiltration]]\nroute = \"/contact\"\nbudget = {{ bytes = \"lots\", per = \"1h\" }}\n"));
        assert!(e[0].contains("is not marked `sensitive = true`"), "{e:?}");
        assert!(e[1].contains("`boss` is not a [[priority]] class"), "{e:?}");
        assert!(e[2].contains("found \"anyone\""), "{e:?}");
        assert!(e[3].contains("`budget` needs `records`, `bytes` or both"), "{e:?}");
        assert!(e[4].contains("`per` must be longer than zero"), "{e:?}");
        assert!(e[5].contains("did you mean `/contacts`?"), "{e:?}");
        assert!(e[6].contains("`bytes`: expected a size"), "{e:?}");
        assert_eq!(e.len(), 7, "{e:?}");
    }
}
