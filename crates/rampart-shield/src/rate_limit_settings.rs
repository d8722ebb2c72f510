//! The typed settings a [`crate::RateLimit`] is built from:
//!
//! ```toml
//! [[rate_limit]]
//! key = "client"                   # or "prefix", "route", "header:X-Api-Key", "cookie:session"
//! rate = "20/s"
//! burst = 40
//! action = "throttle"              # or "block", "challenge"
//! ban = { after = 10, within = "1m", duration = "10m" }   # optional
//! routes = ["api"]                 # optional: only these routes (by name) ...
//! paths = ["/login"]               # ... or path prefixes; default every request
//! ```

use std::str::FromStr;
use std::time::Duration;

use rampart_core::{OnError, Rate, RequestContext, StageMode};

use crate::rate_key::RateKey;

/// What an over-limit request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitAction {
    /// 429 with `Retry-After` (the default).
    #[default]
    Throttle,
    /// 403.
    Block,
    /// A browser challenge (for pages people load, where a 429 would strand a real user).
    Challenge,
}

/// An `action = "..."` that is not one of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limit action `{0}`: expected `throttle`, `block` or `challenge`")]
pub struct LimitActionError(pub String);

impl FromStr for LimitAction {
    type Err = LimitActionError;

    fn from_str(s: &str) -> Result<LimitAction, LimitActionError> {
        match s {
            "throttle" => Ok(LimitAction::Throttle),
            "block" => Ok(LimitAction::Block),
            "challenge" => Ok(LimitAction::Challenge),
            _ => Err(LimitActionError(s.to_string())),
        }
    }
}

/// Escalation: a client over the limit `after` times within `within` is banned for
/// `duration` in the shared ban list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanPolicy {
    pub after: u32,
    /// How long violations are remembered. Default one minute.
    pub within: Duration,
    pub duration: Duration,
}

impl BanPolicy {
    /// A policy with the default one-minute `within`.
    pub fn new(after: u32, duration: Duration) -> BanPolicy {
        BanPolicy { after, within: Duration::from_secs(60), duration }
    }
}

/// Which requests a limit applies to. Empty (the default): every request. Otherwise a
/// request counts when its route's name is in `routes` or its path starts with one of
/// `path_prefixes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteScope {
    pub routes: Vec<String>,
    pub path_prefixes: Vec<String>,
}

impl RouteScope {
    pub fn applies_to(&self, ctx: &RequestContext) -> bool {
        if self.routes.is_empty() && self.path_prefixes.is_empty() {
            return true;
        }
        let by_route = ctx.route.as_ref().is_some_and(|r| self.routes.iter().any(|name| **name == *r.name));
        by_route || self.path_prefixes.iter().any(|p| ctx.path().starts_with(p.as_str()))
    }
}

/// Everything a [`crate::RateLimit`] needs, from validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// How the limit is named in tags, logs and reports (`rate_limit[0]` by config order).
    pub name: String,
    pub key: RateKey,
    pub rate: Rate,
    /// Requests allowed at once above the steady rate (nginx's meaning). Default 0.
    pub burst: u32,
    pub action: LimitAction,
    /// Default: no escalation.
    pub ban: Option<BanPolicy>,
    /// The hard ceiling on this limit's state, from the `[state] memory_ceiling` share.
    pub memory_bytes: usize,
    pub routes: RouteScope,
    /// Default: enforce.
    pub mode: StageMode,
    /// Default: open — a failing limiter must not take the site down.
    pub on_error: OnError,
}

impl RateLimitSettings {
    /// A client-keyed throttle of `rate` with defaults for the rest and 4 MiB of state.
    pub fn new(name: impl Into<String>, key: RateKey, rate: Rate) -> RateLimitSettings {
        RateLimitSettings {
            name: name.into(),
            key,
            rate,
            burst: 0,
            action: LimitAction::Throttle,
            ban: None,
            memory_bytes: 4 << 20,
            routes: RouteScope::default(),
            mode: StageMode::Enforce,
            on_error: OnError::Open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn scope_matches_route_names_and_path_prefixes() {
        let mut ctx = RequestContext::for_test(http::Method::POST, "/login?next=/", "192.0.2.1".parse().unwrap());
        assert!(RouteScope::default().applies_to(&ctx));
        let by_path = RouteScope { path_prefixes: vec!["/login".into()], ..Default::default() };
        assert!(by_path.applies_to(&ctx));
        let by_route = RouteScope { routes: vec!["api".into()], ..Default::default() };
        assert!(!by_route.applies_to(&ctx));
        ctx.route = Some(rampart_core::RouteInfo { name: Arc::from("api"), upstream: Arc::from("app"), sensitive: false });
        assert!(by_route.applies_to(&ctx));
        assert_eq!("challenge".parse::<LimitAction>(), Ok(LimitAction::Challenge));
        assert!("ban".parse::<LimitAction>().is_err());
    }
}
