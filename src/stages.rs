//! The stages, in the order a request meets them, built from the configuration.
//!
//! Order: access lists first (an allow-listed staff network skips everything; a denied network
//! costs nothing more), then bans, then rate limits, then the login and exfiltration guards, then the WAF. Cheapest and most decisive
//! first: a flood refused by a rate limit never costs a rule-set evaluation.

use std::sync::Arc;

use rampart_config::{BodyLimitAction, Config, ExfiltrationAction, LoginFailure, RateAction, RateScope, RecordSource};
use rampart_core::{EventSink, Stage};
use rampart_shield::{
    AccessList, AccessListSettings, BanPolicy, Bans, BansSettings, DetectSettings, EnumerationSettings, ExfilAction,
    ExfilBudget, ExfilSettings, ExfiltrationGuard, FailureSignal, IdentitySource, LimitAction, LoginGuard, LoginSettings,
    RateKey, RateLimit, RateLimitSettings, RecordCount, RouteScope, UsernameKey, Waf, WafSettings,
};
use rampart_state::{BanList, Clock, SystemClock};

/// Entries the shared ban list holds at most: a flood of banned sources evicts the
/// soonest-expiring bans rather than growing memory.
const BAN_CAPACITY: usize = 100_000;

/// The ban list, one per process. A reload rebuilds every stage, but must not lift the bans in
/// force: an operator reloading to add a deny list would otherwise release every banned client.
fn shared_bans() -> Arc<BanList> {
    static BANS: std::sync::OnceLock<Arc<BanList>> = std::sync::OnceLock::new();
    Arc::clone(BANS.get_or_init(|| Arc::new(BanList::new(BAN_CAPACITY))))
}

/// Build the configured stages. Errors are full lines (`file: message`).
pub fn build(config: &Config, events: Arc<dyn EventSink>) -> Result<Vec<Arc<dyn Stage>>, Vec<String>> {
    let file = config.source.display().to_string();
    let mut errors = Vec::new();
    let mut stages: Vec<Arc<dyn Stage>> = Vec::new();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    // Priority first: every later stage (and the proxy's lanes) reads the class.
    match crate::defence::priority(config) {
        Ok(Some(p)) => stages.push(Arc::new(p)),
        Ok(None) => {}
        Err(mut e) => errors.append(&mut e),
    }

    if let Some(access) = &config.access {
        let settings = AccessListSettings {
            allow: access.allow.clone(),
            deny: access.deny.clone(),
            allow_files: access.allow_files.clone(),
            deny_files: access.deny_files.clone(),
            mode: access.mode,
            on_error: access.on_error,
        };
        match AccessList::new(settings) {
            Ok(list) => stages.push(Arc::new(list)),
            Err(e) => errors.extend(e.errors.iter().map(|e| e.to_string())),
        }
    }

    let bans = shared_bans();
    let any_ban_policy = config.rate_limits.iter().any(|r| r.ban.is_some()) || config.flood.enabled;
    if any_ban_policy {
        let settings = BansSettings { mode: config.mode, on_error: rampart_core::OnError::Open };
        stages.push(Arc::new(Bans::new(settings, Arc::clone(&bans), Arc::clone(&clock))));
    }

    // Clearance before the flood defence, which serves cleared browsers through an attack.
    match crate::defence::gate(config) {
        Ok(gate) => {
            stages.push(Arc::new(crate::defence::clearance(&gate)));
            if let Some(flood) = crate::defence::flood(config, &gate, &bans, &clock, &events) {
                stages.push(flood);
            }
        }
        Err(e) => errors.push(format!("{file}: {e}")),
    }

    let ceiling = config.state.memory_ceiling as usize;
    // Out of the ceiling first: the shared ban list, and what the stages built so far hold (the
    // flood detector's sketches and top-K); the rest is shared among the limits and guards.
    let built: usize = stages.iter().filter(|s| s.name() != "bans").map(|s| s.memory_bytes()).sum();
    let reserved = BanList::bytes_for(BAN_CAPACITY) + built;
    let sharing = config.rate_limits.len() + config.logins.len() + config.exfiltration.len();
    let per_limit = ceiling.saturating_sub(reserved) / sharing.max(1);
    // Said once, plainly, instead of every limit and guard reporting a budget of 0 (they are
    // not built; the WAF below still is, so that its errors come in the same report).
    let fits = sharing == 0 || ceiling > reserved;
    if !fits {
        errors.push(format!(
            "{file}: [state] memory_ceiling ({} KiB) leaves nothing for the rate limits and guards: the ban list ({BAN_CAPACITY} entries) and the flood detector take {} KiB of it",
            ceiling / 1024,
            reserved / 1024
        ));
    }
    for (i, rl) in config.rate_limits.iter().enumerate().filter(|_| fits) {
        let key = match &rl.key {
            rampart_config::RateKey::Client => RateKey::Client,
            rampart_config::RateKey::Prefix => RateKey::Prefix,
            rampart_config::RateKey::Route => RateKey::Route,
            rampart_config::RateKey::Header(name) => match name.parse() {
                Ok(h) => RateKey::Header(h),
                Err(_) => {
                    errors.push(format!("{file}: rate_limit #{}: invalid header name `{name}`", i + 1));
                    continue;
                }
            },
            rampart_config::RateKey::Cookie(name) => RateKey::Cookie(name.clone()),
        };
        let mut settings = RateLimitSettings::new(rl.name.clone(), key, rl.rate);
        settings.burst = rl.burst.get();
        settings.action = limit_action(rl.action);
        settings.ban = rl.ban.map(|b| BanPolicy::new(b.after.get(), b.duration));
        settings.memory_bytes = per_limit;
        settings.routes = scope(config, &rl.scope);
        settings.mode = rl.mode;
        settings.on_error = rl.on_error;
        match RateLimit::new(settings, Arc::clone(&bans), Arc::clone(&clock)) {
            Ok(limit) => stages.push(Arc::new(limit.with_events(Arc::clone(&events)))),
            Err(e) => errors.push(format!("{file}: rate_limit `{}`: {e}", rl.name)),
        }
    }

    // The login guard after the rate limits (a flood refused there costs no body read) and
    // before the WAF (a refused stuffing attempt costs no rule evaluation).
    for (i, login) in config.logins.iter().enumerate().filter(|_| fits) {
        match login_guard(login, per_limit, &clock) {
            Ok(guard) => stages.push(Arc::new(guard.with_events(Arc::clone(&events)))),
            Err(e) => errors.push(format!("{file}: login #{} (`{}`): {e}", i + 1, login.path)),
        }
    }

    // One exfiltration guard for every entry: a request is judged by the first entry whose
    // identity applies, which needs them side by side.
    if fits && !config.exfiltration.is_empty() {
        match exfiltration_guard(config, per_limit, &clock) {
            Ok(guard) => stages.push(Arc::new(guard.with_events(Arc::clone(&events)))),
            Err(e) => errors.push(format!("{file}: exfiltration: {e}")),
        }
    }

    if let Some(waf) = &config.waf {
        match Waf::load(waf_settings(waf)) {
            Ok(stage) => {
                tracing::info!(target: "rampart::config", rules = stage.rule_count(), files = waf.rules.len(), "WAF rules loaded");
                stages.push(Arc::new(stage));
            }
            Err(e) => errors.push(format!("[waf] rules: {e}")),
        }
    }

    if errors.is_empty() {
        Ok(stages)
    } else {
        Err(errors)
    }
}

/// The user-name key when no `username_key_file` is set: one per process, so that a reload
/// keeps the hashes (and the counts behind them) stable.
fn process_username_key() -> UsernameKey {
    static KEY: std::sync::OnceLock<UsernameKey> = std::sync::OnceLock::new();
    KEY.get_or_init(UsernameKey::random).clone()
}

/// A `[[login]]` entry as a [`LoginGuard`] with `memory` bytes of counts.
fn login_guard(login: &rampart_config::Login, memory: usize, clock: &Arc<dyn Clock>) -> Result<LoginGuard, String> {
    let failure = match &login.failure {
        LoginFailure::Status(code) => FailureSignal::Status(*code),
        LoginFailure::Redirect(to) => FailureSignal::Redirect(to.clone()),
        LoginFailure::Body(re) => FailureSignal::Body(re.clone()),
    };
    let mut settings = LoginSettings::new(login.path.clone(), failure);
    settings.method = login.method.parse().map_err(|_| format!("invalid method `{}`", login.method))?;
    settings.username_field = login.username_field.clone();
    settings.password_field = login.password_field.clone();
    settings.per_username = login.per_username;
    settings.per_client = login.per_client;
    settings.per_prefix = login.per_prefix;
    settings.per_clearance = login.per_clearance;
    let d = login.detect;
    settings.detect = DetectSettings {
        window: d.window,
        failures: d.failures,
        sources: d.sources,
        usernames_per_source: d.usernames_per_source,
        sources_per_username: d.sources_per_username,
        usernames_per_password: d.usernames_per_password,
    };
    settings.action = limit_action(login.action);
    settings.key = match &login.username_key_file {
        Some(path) => UsernameKey::from_file(path).map_err(|e| format!("username_key_file {}: {e}", path.display()))?,
        None => process_username_key(),
    };
    settings.memory_bytes = memory.min(LOGIN_MEMORY);
    settings.mode = login.mode;
    settings.on_error = login.on_error;
    LoginGuard::new(settings, Arc::clone(clock)).map_err(|e| e.to_string())
}

/// Every `[[exfiltration]]` entry as one [`ExfiltrationGuard`], each with up to `memory` bytes.
fn exfiltration_guard(config: &Config, memory: usize, clock: &Arc<dyn Clock>) -> Result<ExfiltrationGuard, String> {
    let header = |name: &str| name.parse::<http::HeaderName>().map_err(|_| format!("invalid header name `{name}`"));
    let mut entries = Vec::new();
    for x in &config.exfiltration {
        let identity = x
            .identity
            .iter()
            .map(|i| {
                Ok(match i {
                    rampart_config::Identity::Client => IdentitySource::Client,
                    rampart_config::Identity::Prefix => IdentitySource::Prefix,
                    rampart_config::Identity::Clearance => IdentitySource::Clearance,
                    rampart_config::Identity::Header(h) => IdentitySource::Header(header(h)?),
                    rampart_config::Identity::Cookie(c) => IdentitySource::Cookie(c.clone()),
                    rampart_config::Identity::Class { class, .. } => IdentitySource::Class(class.clone()),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let b = x.budget;
        let budget = ExfilBudget { requests: b.requests.map(|n| n.get()), records: b.records.map(|n| n.get()), bytes: b.bytes, per: b.per };
        let mut settings = ExfilSettings::new(x.path.clone(), budget);
        settings.identity = identity;
        settings.records_from = match &x.records_from {
            RecordSource::Auto => RecordCount::Auto,
            RecordSource::Json => RecordCount::Json,
            RecordSource::Csv => RecordCount::Csv,
            RecordSource::Header(h) => RecordCount::Header(header(h)?),
        };
        settings.enumeration = x.enumeration.as_ref().map(|n| EnumerationSettings {
            prefix: n.prefix.clone(),
            suffix: n.suffix.clone(),
            max_ids: n.max_ids,
            max_steps: n.max_steps,
            max_steps_all: n.max_steps_all,
            per: n.per,
        });
        settings.never_leave = x.never_leave.clone();
        settings.action = match x.action {
            ExfiltrationAction::Block => ExfilAction::Block,
            ExfiltrationAction::Throttle => ExfilAction::Throttle,
            ExfiltrationAction::Challenge => ExfilAction::Challenge,
            ExfiltrationAction::Alert => ExfilAction::Alert,
        };
        settings.mode = x.mode;
        settings.memory_bytes = memory.min(EXFIL_MEMORY);
        entries.push(settings);
    }
    ExfiltrationGuard::new(entries, Arc::clone(clock)).map_err(|e| e.to_string())
}

/// Bytes of counts an exfiltration entry takes at most (of its share of `memory_ceiling`).
const EXFIL_MEMORY: usize = 4 << 20;

/// Bytes of counts a login guard takes at most (of its share of `memory_ceiling`): enough for
/// hundreds of thousands of attempts a window with few collisions.
const LOGIN_MEMORY: usize = 8 << 20;

fn limit_action(action: RateAction) -> LimitAction {
    match action {
        RateAction::Throttle => LimitAction::Throttle,
        RateAction::Block => LimitAction::Block,
        RateAction::Challenge => LimitAction::Challenge,
    }
}

/// The engine settings `[waf]` implies, as directives applied before the rule files.
pub fn waf_settings(waf: &rampart_config::Waf) -> WafSettings {
    let mut prelude = format!(
        "SecRequestBodyLimit {}\nSecRequestBodyNoFilesLimit {}\nSecRequestBodyLimitAction {}\n",
        waf.request_body_limit,
        waf.request_body_no_files_limit,
        match waf.request_body_limit_action {
            BodyLimitAction::Reject => "Reject",
            BodyLimitAction::ProcessPartial => "ProcessPartial",
        }
    );
    if waf.inspect_response_body {
        prelude.push_str(&format!(
            "SecResponseBodyAccess On\nSecResponseBodyLimit {}\nSecResponseBodyMimeType {}\n",
            waf.response_body_limit,
            waf.response_body_mime_types.join(" ")
        ));
    }
    WafSettings {
        rule_files: waf.rules.clone(),
        rule_text: None,
        prelude,
        paranoia: Some(waf.paranoia),
        inspect_response_body: waf.inspect_response_body,
        skip_refused_rules: false,
        mode: waf.mode,
        on_error: waf.on_error,
    }
}

/// `routes = [...]` names routes by name or by path; the stage matches by route name.
fn scope(config: &Config, scope: &RateScope) -> RouteScope {
    match scope {
        RateScope::All => RouteScope::default(),
        RateScope::Routes(entries) => RouteScope {
            routes: config
                .routes
                .iter()
                .filter(|r| entries.iter().any(|e| *e == r.name || *e == r.path))
                .map(|r| r.name.clone())
                .collect(),
            path_prefixes: Vec::new(),
        },
        RateScope::PathPrefix(prefix) => RouteScope { routes: Vec::new(), path_prefixes: vec![prefix.clone()] },
    }
}

/// Stage-specific warnings for `check-config` and start-up.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut w = Vec::new();
    for p in &config.priorities {
        let marker = p.cookie.as_deref().map(|c| format!("cookie `{c}`")).or_else(|| p.header.as_deref().map(|h| format!("header `{h}`")));
        if let (Some(marker), None) = (marker, &p.verify) {
            w.push(format!(
                "{}: [[priority]] class `{}` trusts the mere presence of {marker}: anyone can send it and be served as `{}` (exempt from challenges and the login guard's attack defences); add `verify = {{ jwt_hs256_key_file = ... }}`",
                config.source.display(),
                p.class,
                p.class
            ));
        }
    }
    w
}
