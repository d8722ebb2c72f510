//! `[[rate_limit]]`.

use std::num::NonZeroU32;

use rampart_core::{OnError, StageMode};

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::{Ban, RateAction, RateKey, RateLimit, RateScope, Route};
use crate::raw::{RawRateLimit, Str};
use crate::suggest::did_you_mean;

use super::values::{choice, count, mode, name, on_error, rate, required_count, required_duration, token, url_path};

/// `[[rate_limit]]`: key, rate and action parse; `routes` name routes; `routes` and `path`
/// are not both set.
pub(crate) fn rate_limits(ctx: &mut Ctx<'_>, raw: &[RawRateLimit], routes: &[Route], check_routes: bool, global: StageMode) -> Vec<RateLimit> {
    let mut out = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let limit_name = r.name.as_ref().and_then(|n| name(ctx, "name", n)).unwrap_or_else(|| format!("rate_limit[{}]", i + 1));
        let key = r.key.as_ref().map(|k| key(ctx, k)).unwrap_or(Some(RateKey::Client));
        let parsed_rate = rate(ctx, "rate", &r.rate);
        let default_burst = parsed_rate.map(|p| NonZeroU32::new(p.count.min(u32::MAX as u64) as u32).unwrap_or(NonZeroU32::MIN)).unwrap_or(NonZeroU32::MIN);
        let burst = count(ctx, "burst", &r.burst, default_burst);
        let action = action(ctx, &r.action, RateAction::Throttle);
        let scope = match (&r.routes, &r.path) {
            (Some(list), Some(path)) => {
                ctx.error(Some(&path.span()), ErrorKind::Inconsistent, "set `routes` or `path`, not both");
                let _ = list;
                RateScope::All
            }
            (Some(list), None) => {
                let mut names = Vec::new();
                for v in list.get_ref() {
                    if check_routes {
                        route_ref(ctx, "routes", v, routes);
                    }
                    names.push(v.get_ref().clone());
                }
                if names.is_empty() {
                    ctx.invalid(&list.span(), "`routes` is empty: name at least one route, or remove the key to apply to every request");
                }
                RateScope::Routes(names)
            }
            (None, Some(p)) => url_path(ctx, "path", p).map(RateScope::PathPrefix).unwrap_or(RateScope::All),
            (None, None) => RateScope::All,
        };
        let ban = r.ban.as_ref().and_then(|b| {
            let after = required_count(ctx, "after", &b.after);
            let duration = required_duration(ctx, "duration", &b.duration);
            Some(Ban { after: after?, duration: duration? })
        });
        let mode = mode(ctx, &r.mode, global);
        let on_error = on_error(ctx, &r.on_error, OnError::Open);
        if let (Some(key), Some(rate)) = (key, parsed_rate) {
            out.push(RateLimit { name: limit_name, key, rate, burst, action, scope, ban, mode, on_error });
        }
    }
    out
}

/// `client`, `prefix`, `route`, `header:NAME`, `cookie:NAME`.
fn key(ctx: &mut Ctx<'_>, v: &Str) -> Option<RateKey> {
    let s = v.get_ref().as_str();
    match s {
        "client" => return Some(RateKey::Client),
        "prefix" => return Some(RateKey::Prefix),
        "route" => return Some(RateKey::Route),
        _ => {}
    }
    if let Some(h) = s.strip_prefix("header:") {
        return token(ctx, "key", "header", h, v).map(|h| RateKey::Header(h.to_ascii_lowercase()));
    }
    if let Some(c) = s.strip_prefix("cookie:") {
        return token(ctx, "key", "cookie", c, v).map(RateKey::Cookie);
    }
    ctx.invalid(
        &v.span(),
        format!(
            "`key`: expected `client`, `prefix`, `route`, `header:NAME` or `cookie:NAME` (such as \"header:X-Api-Key\"), found \"{s}\"{}",
            did_you_mean(s, ["client", "prefix", "route"])
        ),
    );
    None
}

/// `throttle`, `block` or `challenge`.
pub(crate) fn action(ctx: &mut Ctx<'_>, v: &Option<Str>, default: RateAction) -> RateAction {
    choice(
        ctx,
        "action",
        v,
        &[("throttle", RateAction::Throttle), ("block", RateAction::Block), ("challenge", RateAction::Challenge)],
        default,
    )
}

/// A reference to a route, by name or by path. Records an error when none matches.
pub(crate) fn route_ref<'r>(ctx: &mut Ctx<'_>, key: &str, v: &Str, routes: &'r [Route]) -> Option<&'r Route> {
    let want = v.get_ref().as_str();
    let found = routes.iter().find(|r| r.name == want).or_else(|| routes.iter().find(|r| r.path == want));
    if found.is_none() {
        let known: Vec<&str> = routes.iter().map(|r| r.path.as_str()).collect();
        ctx.error(
            Some(&v.span()),
            ErrorKind::UnknownReference,
            format!("`{key}`: no [[route]] has the name or path \"{want}\"{}", did_you_mean(want, known)),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::{RateAction, RateKey, RateScope};
    use crate::testing::{errs, ok};

    #[test]
    fn values_and_defaults() {
        let c = ok("[[route]]\npath = \"/api\"\nupstream = \"app\"\n[[rate_limit]]\nrate = \"20/s\"\n[[rate_limit]]\nname = \"keys\"\nkey = \"cookie:session\"\nrate = \"600/m\"\nburst = 5\naction = \"challenge\"\nroutes = [\"/api\"]\nban = { after = 3, duration = \"10m\" }\n[[rate_limit]]\nkey = \"prefix\"\nrate = \"10/5s\"\npath = \"/login\"\n");
        let r = &c.rate_limits;
        assert_eq!((r[0].name.as_str(), &r[0].key, r[0].burst.get(), r[0].action), ("rate_limit[1]", &RateKey::Client, 20, RateAction::Throttle));
        assert_eq!(r[0].scope, RateScope::All);
        assert_eq!(r[1].key, RateKey::Cookie("session".into()));
        assert_eq!(r[1].ban.unwrap().duration, Duration::from_secs(600));
        assert_eq!(r[2].scope, RateScope::PathPrefix("/login".into()));
        assert_eq!(r[2].rate.per, Duration::from_secs(5));
    }

    #[test]
    fn mistakes() {
        let e = errs("[[rate_limit]]\nkey = \"header:\"\nrate = \"20 per second\"\nburst = -1\nroutes = [\"/nope\"]\npath = \"/x\"\nban = { after = 0, duration = \"1\" }\n[[rate_limit]]\nkey = \"clint\"\nrate = \"1/s\"\n");
        assert!(e[0].contains("\"\" is not a valid header name"), "{e:?}");
        assert!(e[1].contains("expected a rate such as \"20/s\""), "{e:?}");
        assert!(e[2].contains("`burst`: expected a whole number"), "{e:?}");
        assert!(e[3].contains("set `routes` or `path`, not both"), "{e:?}");
        assert!(e[4].contains("`after`: expected a whole number"), "{e:?}");
        assert!(e[5].contains("`duration`: expected a duration"), "{e:?}");
        assert!(e[6].contains("did you mean `client`?"), "{e:?}");
        assert_eq!(e.len(), 7, "{e:?}");
        let e = errs("[[route]]\npath = \"/api\"\nupstream = \"app\"\n[[rate_limit]]\nrate = \"1/s\"\nroutes = [\"/apj\"]\n");
        assert!(e[0].contains("no [[route]] has the name or path \"/apj\", did you mean `/api`?"), "{e:?}");
    }
}
