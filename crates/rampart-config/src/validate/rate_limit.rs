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
            let b = b.get_ref();
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
