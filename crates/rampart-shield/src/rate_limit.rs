//! [`RateLimit`]: refuse a key (client, prefix, route, header, cookie) that goes over its
//! rate, and ban clients that keep doing it.
//!
//! Runs in the request-header phase, once the route is known. The decision comes from a
//! [`RateLimiter`] in `rampart-state`: GCRA timestamps in a count-min-shaped sketch (exact
//! `rate` + `burst` semantics and `Retry-After`, fixed memory whatever the number of keys),
//! violations counted over a sliding window, heavy offenders kept in a top-K. With a
//! [`crate::BanPolicy`], a client over the limit `after` times within `within` is put on the
//! shared [`BanList`] for `duration` (its address, or its /24 or /64 when the limit is keyed
//! by prefix), which the [`crate::Bans`] stage then enforces on its connections and requests.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use rampart_core::{Event, EventSink, OnError, RequestContext, Stage, StageError, StageMode, Verdict};
use rampart_state::{BanList, BudgetError, Clock, HeavyHitter, KeyLabel, LimitDecision, LimiterSettings, RateLimiter};

use crate::rate_key::{prefix_of, RateKey};
use crate::rate_limit_settings::{LimitAction, RateLimitSettings};

/// One configured rate limit.
pub struct RateLimit {
    settings: RateLimitSettings,
    limiter: RateLimiter,
    bans: Arc<BanList>,
    clock: Arc<dyn Clock>,
    events: Option<Arc<dyn EventSink>>,
}

impl RateLimit {
    /// Build the limit and allocate all its state now, within `settings.memory_bytes`;
    /// refuses a ceiling too small to hold it. `bans` is the list escalations go to.
    pub fn new(settings: RateLimitSettings, bans: Arc<BanList>, clock: Arc<dyn Clock>) -> Result<RateLimit, BudgetError> {
        let mut limiter = LimiterSettings::new(settings.rate, settings.burst, settings.memory_bytes);
        if let Some(ban) = settings.ban {
            limiter.violation_window = ban.within;
        }
        let limiter = RateLimiter::new(&limiter, clock.now())?;
        Ok(RateLimit { settings, limiter, bans, clock, events: None })
    }

    /// Report every ban this limit places to `sink` (the audit trail, the console). Default:
    /// bans are only logged.
    pub fn with_events(mut self, sink: Arc<dyn EventSink>) -> RateLimit {
        self.events = Some(sink);
        self
    }

    pub fn settings(&self) -> &RateLimitSettings {
        &self.settings
    }

    /// The `n` keys most often over this limit, heaviest first (header and cookie values
    /// appear as a hash only).
    pub fn top_offenders(&self, n: usize) -> Vec<HeavyHitter<KeyLabel>> {
        self.limiter.top_offenders(n)
    }

    /// Bytes this limit holds; fixed at construction, never above `memory_bytes`.
    pub fn memory_bytes(&self) -> usize {
        self.limiter.memory_bytes()
    }

    fn over_limit(&self, ctx: &mut RequestContext, retry_after: Duration, violations: u32) -> Verdict {
        ctx.tag("rate_limit", self.settings.name.as_str());
        if let Some(policy) = self.settings.ban.filter(|p| violations >= p.after) {
            // A ban is enforcement: a limit that only detects reports it would have banned.
            if self.settings.mode == StageMode::Enforce {
                let now = self.clock.now();
                // A prefix-keyed limit bans the prefix: its offender rotates addresses within it.
                let target = match self.settings.key {
                    RateKey::Prefix => prefix_of(ctx.client.to_canonical()),
                    _ => IpNet::from(ctx.client),
                };
                let outcome = self.bans.ban(target, now + policy.duration, now);
                tracing::info!(limit = %self.settings.name, client = %ctx.client, ?outcome, "client banned");
                if let Some(sink) = &self.events {
                    let at = SystemTime::now();
                    let reason = format!("{}: over the limit {violations} times", self.settings.name);
                    sink.emit(Event::Ban { at, client: ctx.client, until: at + policy.duration, reason });
                }
                ctx.tag("ban", format!("{}s", policy.duration.as_secs()));
            } else {
                ctx.tag("would_ban", format!("{}s", policy.duration.as_secs()));
            }
            return Verdict::forbidden("rate limit exceeded; temporarily banned");
        }
        match self.settings.action {
            LimitAction::Throttle => Verdict::Throttle { retry_after: whole_seconds(retry_after), reason: "rate limit exceeded".into() },
            LimitAction::Block => Verdict::forbidden("rate limit exceeded"),
            LimitAction::Challenge => Verdict::Challenge { reason: "rate limit exceeded".into() },
        }
    }
}

/// `Retry-After` carries whole seconds: round up, so a client that obeys is served.
fn whole_seconds(wait: Duration) -> Duration {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

impl Stage for RateLimit {
    fn name(&self) -> &'static str {
        "rate_limit"
    }

    fn memory_bytes(&self) -> usize {
        RateLimit::memory_bytes(self)
    }

    fn mode(&self) -> StageMode {
        self.settings.mode
    }

    fn on_error(&self) -> OnError {
        self.settings.on_error
    }

    fn reads_request_headers_late(&self) -> bool {
        false
    }

    fn on_request_headers(&self, ctx: &mut RequestContext) -> Result<Verdict, StageError> {
        if !self.settings.routes.applies_to(ctx) {
            return Ok(Verdict::Continue);
        }
        let decision = match self.settings.key.of(ctx) {
            Some(key) => self.limiter.check(key.hash, self.clock.now(), || key.label()),
            None => return Ok(Verdict::Continue),
        };
        Ok(match decision {
            LimitDecision::Allowed => Verdict::Continue,
            LimitDecision::Limited { retry_after, violations } => self.over_limit(ctx, retry_after, violations),
        })
    }
}

#[cfg(test)]
mod tests;
