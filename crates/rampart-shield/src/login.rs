//! [`LoginGuard`]: credential stuffing, password spraying and account takeover against one
//! login endpoint, for any app, without changing it.
//!
//! Phases, for requests to the configured method and path only:
//!
//! * **request headers** — who is asking decides how they are judged. A request with a priority
//!   class other than public, or a verified subject, is staff: counted apart, with
//!   [`STAFF_FACTOR`] times the room, and never touched by the attack defences, so that the
//!   real owner of an account always gets in. A request with a clearance token (a solved
//!   challenge) is judged by its token. Anyone else by client and prefix, and by the
//!   distributed-stuffing defence while it is on. The ladder for a key under pressure (failed
//!   plus refused attempts in its period): from a quarter of its budget a 429 with
//!   `Retry-After` (the delay), from half a challenge, from the whole a block — temporary,
//!   since the count slides out of its window once the client stops.
//! * **request body** (buffered for this path only) — the user name and password are read and
//!   at once reduced to keyed hashes ([`UsernameKey`]). Public requests for a user name over
//!   its `per_username` budget, a user name tried from many sources, or a password tried on
//!   many user names get the configured `action` (a challenge by default): the account is
//!   protected, not locked.
//! * **response headers / body** — a failure (status, redirect or body pattern) is counted per
//!   key and in the detectors ([`LoginState`]), which emit one [`Event::Detection`] when a
//!   pattern crosses its threshold: `credential_stuffing_many_usernames` (one source, many
//!   user names), `credential_stuffing_one_username` (one user name, many sources),
//!   `password_spraying`, `credential_stuffing_distributed` (many sources, many failures;
//!   turns on the defence for every public request for `detect.window` after the last attempt),
//!   and `failed_logins` when a source reaches its block.
//!
//! User names appear in tags, logs and events only as `user#` and a MAC; passwords never.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rampart_core::{Event, EventSink, OnError, RequestContext, ResponseFacts, Stage, StageError, StageMode, Verdict};
use rampart_state::{BudgetError, Clock, KeyHash};

use crate::login_body::credentials;
use crate::login_key::{UserTag, UsernameKey};
use crate::login_settings::{FailureSignal, LoginSettings, STAFF_FACTOR};
use crate::login_state::{derive, LoginState, Periods, Spread};
use crate::rate_key::prefix_of;
use crate::rate_limit_settings::LimitAction;

/// How a login request is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Judged {
    /// A priority class other than public, or a verified subject.
    Staff,
    /// A clearance token's id.
    Cleared(Arc<str>),
    Public,
}

/// What the guard carries from one phase of a login request to the next.
#[derive(Debug, Clone)]
struct Attempt {
    judged: Judged,
    user: Option<UserTag>,
    password: Option<KeyHash>,
}

/// One guarded login endpoint.
pub struct LoginGuard {
    settings: LoginSettings,
    state: LoginState,
    clock: Arc<dyn Clock>,
    events: Option<Arc<dyn EventSink>>,
}

impl LoginGuard {
    /// Allocate the guard's counts now, within `settings.memory_bytes`.
    pub fn new(settings: LoginSettings, clock: Arc<dyn Clock>) -> Result<LoginGuard, BudgetError> {
        let periods = Periods {
            client: settings.per_client.per,
            prefix: settings.per_prefix.per,
            clearance: settings.per_clearance.per,
            username: settings.per_username.per,
            detect: settings.detect.window,
        };
        let state = LoginState::new(settings.memory_bytes, &periods, clock.now())?;
        Ok(LoginGuard { settings, state, clock, events: None })
    }

    /// Report detections to `sink`. Default: only tagged on the request.
    pub fn with_events(mut self, sink: Arc<dyn EventSink>) -> LoginGuard {
        self.events = Some(sink);
        self
    }

    pub fn settings(&self) -> &LoginSettings {
        &self.settings
    }

    /// The key user names are hashed with (to print a tag for a known name in a test or tool).
    pub fn key(&self) -> &UsernameKey {
        &self.settings.key
    }

    fn applies(&self, ctx: &RequestContext) -> bool {
        ctx.method == self.settings.method && ctx.path() == self.settings.path
    }

    fn judged(ctx: &RequestContext) -> Judged {
        if !ctx.identity.is_public() || ctx.identity.subject.is_some() {
            Judged::Staff
        } else if let Some(c) = &ctx.identity.clearance {
            Judged::Cleared(Arc::clone(c))
        } else {
            Judged::Public
        }
    }

    /// The keys a request's pressure is counted on, with their budgets.
    fn sources(&self, ctx: &RequestContext, judged: &Judged) -> Vec<(Source, KeyHash, u64)> {
        let s = &self.settings;
        match judged {
            Judged::Staff => vec![(
                Source::Client,
                derive(b"staff", &[KeyHash::of_ip(ctx.client).value()]),
                s.per_client.count * u64::from(STAFF_FACTOR),
            )],
            Judged::Cleared(id) => vec![(Source::Clearance, KeyHash::of_bytes(id.as_bytes()), s.per_clearance.count)],
            Judged::Public => vec![
                (Source::Client, KeyHash::of_ip(ctx.client), s.per_client.count),
                (
                    Source::Prefix,
                    derive(b"prefix", &[KeyHash::of_ip(prefix_of(ctx.client.to_canonical()).network()).value()]),
                    s.per_prefix.count,
                ),
            ],
        }
    }

    fn window(&self, source: Source) -> &rampart_state::SlidingWindow {
        match source {
            Source::Client => &self.state.client,
            Source::Prefix => &self.state.prefix,
            Source::Clearance => &self.state.clearance,
        }
    }

    /// The ladder: the highest step any of the request's keys is on. Steps are ranked by the
    /// ladder (delay, challenge, block), not by verdict precedence, which puts a 429 above a
    /// challenge: a client challenged by its own count stays challenged when its prefix is
    /// only slowed.
    fn ladder(&self, ctx: &RequestContext, judged: &Judged, now: Instant) -> Verdict {
        let rank = |v: &Verdict| match v {
            Verdict::Throttle { .. } => 1,
            Verdict::Challenge { .. } => 2,
            Verdict::Block { .. } => 3,
            _ => 0,
        };
        let mut worst = Verdict::Continue;
        for (source, key, budget) in self.sources(ctx, judged) {
            let pressure = self.window(source).count(key, now).weighted;
            let step = step(pressure, budget, self.retry_after(source));
            if rank(&step) > rank(&worst) {
                worst = step;
            }
        }
        worst
    }

    fn retry_after(&self, source: Source) -> Duration {
        let per = match source {
            Source::Client => self.settings.per_client,
            Source::Prefix => self.settings.per_prefix,
            Source::Clearance => self.settings.per_clearance,
        };
        let one = per.per.as_secs_f64() / per.count.max(1) as f64;
        Duration::from_secs(one.ceil().clamp(1.0, 60.0) as u64)
    }

    /// A refused attempt counts on its keys too: ignoring a `Retry-After` or a challenge and
    /// trying again is what a tool does, not a person.
    fn refused(&self, ctx: &mut RequestContext, judged: &Judged, now: Instant) {
        if self.settings.mode != StageMode::Enforce {
            return;
        }
        self.press(ctx, judged, now);
        if *judged == Judged::Public && self.state.under_attack(now) {
            self.state.hold_attack(now, self.settings.detect.window);
        }
    }

    /// Count one failed or refused attempt on the request's keys; report a client that just
    /// reached its block.
    fn press(&self, ctx: &mut RequestContext, judged: &Judged, now: Instant) {
        let mut blocked_now = false;
        for (source, key, budget) in self.sources(ctx, judged) {
            let after = self.window(source).observe(key, 1, now).weighted;
            blocked_now |= source != Source::Prefix && crossed(after, budget);
        }
        if blocked_now {
            let per = match judged {
                Judged::Cleared(_) => self.settings.per_clearance,
                _ => self.settings.per_client,
            };
            let identity = match judged {
                Judged::Cleared(id) => format!("clearance#{}", KeyHash::of_bytes(id.as_bytes()).value() >> 32),
                _ => format!("client:{}", ctx.client),
            };
            let volume = format!("{} failed or refused attempts in {}s", per.count, per.per.as_secs());
            self.detected(ctx, "failed_logins", identity, volume, "block");
        }
    }

    fn action(&self, reason: &'static str) -> Verdict {
        match self.settings.action {
            LimitAction::Challenge => Verdict::Challenge { reason: reason.into() },
            LimitAction::Throttle => Verdict::Throttle { retry_after: Duration::from_secs(5), reason: reason.into() },
            LimitAction::Block => Verdict::forbidden(reason),
        }
    }

    fn response_name(&self) -> &'static str {
        match self.settings.action {
            LimitAction::Challenge => "challenge",
            LimitAction::Throttle => "throttle",
            LimitAction::Block => "block",
        }
    }

    /// Count a failed login and report the patterns it completes.
    fn failed(&self, ctx: &mut RequestContext, attempt: &Attempt, now: Instant) {
        ctx.tag("login", "failed");
        self.press(ctx, &attempt.judged, now);
        if let Some(user) = attempt.user {
            self.state.username.observe(user.key(), 1, now);
        }
        let d = self.settings.detect;
        let spread: Spread =
            self.state.spread(KeyHash::of_ip(ctx.client), ctx.client, attempt.user, attempt.password, now);
        let window = format!("{}s", d.window.as_secs());
        let client = format!("client:{}", ctx.client);
        if crossed(spread.users_of_source, u64::from(d.usernames_per_source)) {
            let volume = format!("{} user names from one source in {window}", d.usernames_per_source);
            self.detected(ctx, "credential_stuffing_many_usernames", client, volume, "challenge");
        }
        if let Some(user) = attempt.user.filter(|_| crossed(spread.sources_of_user, u64::from(d.sources_per_username)))
        {
            let volume = format!("one user name from {} sources in {window}", d.sources_per_username);
            self.detected(ctx, "credential_stuffing_one_username", user.to_string(), volume, self.response_name());
        }
        if crossed(spread.users_of_password, u64::from(d.usernames_per_password)) {
            let volume = format!("one password on {} user names in {window}", d.usernames_per_password);
            self.detected(ctx, "password_spraying", "*".into(), volume, self.response_name());
        }
        let distributed = spread.failures >= f64::from(d.failures) && spread.sources >= f64::from(d.sources);
        if distributed && attempt.judged == Judged::Public && self.state.hold_attack(now, d.window) {
            let volume = format!("{:.0} failures from {:.0} sources in {window}", spread.failures, spread.sources);
            self.detected(ctx, "credential_stuffing_distributed", "*".into(), volume, self.response_name());
        }
    }

    fn detected(
        &self,
        ctx: &mut RequestContext,
        pattern: &'static str,
        identity: String,
        volume: String,
        response: &'static str,
    ) {
        ctx.tag("login_pattern", pattern);
        tracing::warn!(target: "rampart::login", pattern, identity = %identity, volume = %volume, response, "login attack pattern");
        if let Some(sink) = &self.events {
            sink.emit(Event::Detection {
                at: SystemTime::now(),
                stage: "login_guard",
                pattern,
                client: ctx.client,
                identity,
                route: self.settings.path.clone(),
                volume,
                response,
            });
        }
    }

    fn is_failure(&self, resp: &ResponseFacts) -> Option<bool> {
        match &self.settings.failure {
            FailureSignal::Status(code) => Some(resp.status.as_u16() == *code),
            FailureSignal::Redirect(to) => {
                Some(resp.status.is_redirection() && location(resp).is_some_and(|l| redirects_to(l, to)))
            }
            FailureSignal::Body(_) => None,
        }
    }
}

/// Which window a key is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Client,
    Prefix,
    Clearance,
}

/// The ladder's step for `pressure` against `budget`.
fn step(pressure: f64, budget: u64, retry_after: Duration) -> Verdict {
    let budget = budget.max(1) as f64;
    if pressure >= budget {
        Verdict::forbidden("login: too many failed attempts; temporarily blocked")
    } else if pressure >= budget / 2.0 {
        Verdict::Challenge { reason: "login: many failed attempts".into() }
    } else if pressure >= budget / 4.0 {
        Verdict::Throttle { retry_after, reason: "login: failed attempts; slow down".into() }
    } else {
        Verdict::Continue
    }
}

/// True when a count that just went up by one reached `threshold`.
fn crossed(after: f64, threshold: u64) -> bool {
    let t = threshold as f64;
    after >= t && after - 1.0 < t
}

fn location(resp: &ResponseFacts) -> Option<&str> {
    resp.headers.get(http::header::LOCATION).and_then(|v| v.to_str().ok())
}

/// `https://host/login?failed` and `/login?failed` both redirect to `/login?failed`.
fn redirects_to(location: &str, to: &str) -> bool {
    let path = match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => location,
    };
    path.starts_with(to)
}

impl Stage for LoginGuard {
    fn name(&self) -> &'static str {
        "login_guard"
    }

    fn mode(&self) -> StageMode {
        self.settings.mode
    }

    fn on_error(&self) -> OnError {
        self.settings.on_error
    }

    fn memory_bytes(&self) -> usize {
        self.state.memory_bytes()
    }

    fn wants_request_body(&self) -> bool {
        true
    }

    fn wants_request_body_of(&self, ctx: &RequestContext) -> bool {
        self.applies(ctx)
    }

    fn wants_response_body(&self) -> bool {
        matches!(self.settings.failure, FailureSignal::Body(_))
    }

    fn wants_response_body_of(&self, ctx: &RequestContext) -> bool {
        self.wants_response_body() && ctx.extensions.get::<Attempt>().is_some()
    }

    fn on_request_headers(&self, ctx: &mut RequestContext) -> Result<Verdict, StageError> {
        if !self.applies(ctx) {
            return Ok(Verdict::Continue);
        }
        let now = self.clock.now();
        let judged = Self::judged(ctx);
        let mut verdict = self.ladder(ctx, &judged, now);
        if judged == Judged::Public && self.state.under_attack(now) && verdict.precedence() < 1 {
            verdict = self.action("login: credential stuffing in progress");
        }
        if verdict.is_disruptive() {
            self.refused(ctx, &judged, now);
        }
        ctx.extensions.insert(Attempt { judged, user: None, password: None });
        Ok(verdict)
    }

    fn on_request_body(&self, ctx: &mut RequestContext, body: &[u8]) -> Result<Verdict, StageError> {
        let Some(mut attempt) = ctx.extensions.get::<Attempt>().cloned() else {
            return Ok(Verdict::Continue);
        };
        let s = &self.settings;
        let creds = credentials(ctx.header("content-type"), body, &s.username_field, &s.password_field);
        attempt.user = creds.username.as_deref().filter(|u| !u.trim().is_empty()).map(|u| s.key.user(u));
        attempt.password = creds.password.as_deref().map(|p| s.key.password(p));
        drop(creds);
        if let Some(user) = attempt.user {
            ctx.tag("login_user", user.to_string());
        }
        let now = self.clock.now();
        let mut verdict = Verdict::Continue;
        if attempt.judged == Judged::Public {
            let d = s.detect;
            if let Some(user) = attempt.user {
                if self.state.username.count(user.key(), now).weighted >= s.per_username.count as f64 {
                    verdict = self.action("login: too many failures for this user name");
                } else if self.state.sources_of_user(user, now) >= f64::from(d.sources_per_username) {
                    verdict = self.action("login: this user name is under attack");
                }
            }
            if let Some(pw) = attempt.password.filter(|_| !verdict.is_disruptive()) {
                if self.state.users_of_password(pw, now) >= f64::from(d.usernames_per_password) {
                    verdict = self.action("login: password spraying");
                }
            }
            if verdict.is_disruptive() {
                self.refused(ctx, &attempt.judged, now);
            }
        }
        ctx.extensions.insert(attempt);
        Ok(verdict)
    }

    fn on_response_headers(&self, ctx: &mut RequestContext, resp: &ResponseFacts) -> Result<Verdict, StageError> {
        let Some(attempt) = ctx.extensions.get::<Attempt>().cloned() else {
            return Ok(Verdict::Continue);
        };
        if self.is_failure(resp) == Some(true) {
            self.failed(ctx, &attempt, self.clock.now());
        }
        Ok(Verdict::Continue)
    }

    fn on_response_body(
        &self,
        ctx: &mut RequestContext,
        _resp: &ResponseFacts,
        body: &[u8],
    ) -> Result<Verdict, StageError> {
        let Some(attempt) = ctx.extensions.get::<Attempt>().cloned() else {
            return Ok(Verdict::Continue);
        };
        if let FailureSignal::Body(re) = &self.settings.failure {
            if re.is_match(&String::from_utf8_lossy(body)) {
                self.failed(ctx, &attempt, self.clock.now());
            }
        }
        Ok(Verdict::Continue)
    }
}

#[cfg(test)]
pub(crate) mod tests;
