//! [`ExfiltrationGuard`]: per-identity data budgets, id-walk detection and never-leave
//! patterns on sensitive routes (contact pages, search, export), for any app.
//!
//! A request under a configured route is judged by the first entry (in configuration order)
//! one of whose identity alternatives applies: a staff member with a verified subject against
//! the staff entry's budget, an anonymous client against a far smaller one. Phases:
//!
//! * **request headers** — refused while its identity is over a budget (requests, records,
//!   bytes per period), while its own id walk is over `max_ids`/`max_steps`, or while the
//!   route is locked down after a walk split over many sources (identities without a class
//!   only). The request itself is counted, and an id page view goes to the [`WalkDetector`].
//! * **response headers / body** (the body buffered on these routes only, when records or
//!   patterns need it) — a body matching a `never_leave` pattern is withheld (502) whoever
//!   asked; the records (see [`records`]) and bytes are counted, and a response that would
//!   take its identity past the budget is refused instead of sent.
//!
//! Each breach is tagged and reported once as an [`Event::Detection`] naming the identity
//! (hashed where personal), the route and the volume. Counts live in sliding windows of fixed
//! size: a flood of distinct identities changes counts, never memory.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rampart_core::{Event, EventSink, RequestContext, ResponseFacts, Stage, StageError, StageMode, Verdict};
use rampart_state::{BudgetError, Clock, KeyHash, SlidingWindow};

use crate::exfil_records::records;
use crate::exfil_settings::{ExfilAction, ExfilSettings, IdentitySource};
use crate::exfil_walk::WalkDetector;
use crate::login_state::derive;
use crate::rate_key::prefix_of;

/// One entry's settings and counts.
struct Entry {
    settings: ExfilSettings,
    /// Requests, records and KiB per identity, under separate key domains.
    used: SlidingWindow,
    walk: Option<WalkDetector>,
}

/// Who a request is, for one entry.
#[derive(Debug, Clone)]
struct Judged {
    entry: usize,
    key: KeyHash,
    /// `client:ADDR`, `cookie:session#…`, `subject#…`: hashed where personal.
    shown: String,
    /// A priority class member (exempt from the route-wide lockdown).
    member: bool,
}

/// The exfiltration guard for every `[[exfiltration]]` entry.
pub struct ExfiltrationGuard {
    entries: Vec<Entry>,
    clock: Arc<dyn Clock>,
    events: Option<Arc<dyn EventSink>>,
}

impl ExfiltrationGuard {
    /// Allocate every entry's counts now, each within its `memory_bytes`.
    pub fn new(entries: Vec<ExfilSettings>, clock: Arc<dyn Clock>) -> Result<ExfiltrationGuard, BudgetError> {
        let now = clock.now();
        let entries = entries
            .into_iter()
            .map(|settings| {
                let walk = match &settings.enumeration {
                    Some(e) => Some(WalkDetector::new(settings.memory_bytes / 2, e.per, now)?),
                    None => None,
                };
                let used = SlidingWindow::with_budget(settings.memory_bytes / 2, settings.budget.per, now)?;
                Ok(Entry { settings, used, walk })
            })
            .collect::<Result<Vec<_>, BudgetError>>()?;
        Ok(ExfiltrationGuard { entries, clock, events: None })
    }

    /// Report breaches to `sink`. Default: only tagged on the request.
    pub fn with_events(mut self, sink: Arc<dyn EventSink>) -> ExfiltrationGuard {
        self.events = Some(sink);
        self
    }

    fn judge(&self, ctx: &RequestContext) -> Option<Judged> {
        let path = ctx.path();
        self.entries.iter().enumerate().filter(|(_, e)| under(path, &e.settings.path)).find_map(|(i, e)| {
            e.settings.identity.iter().find_map(|source| identity(source, ctx)).map(|(key, shown, member)| Judged {
                entry: i,
                key: derive(b"exfil", &[i as u64, key.value()]),
                shown,
                member,
            })
        })
    }

    /// Report a breach (once per crossing) and refuse per the entry's action.
    fn breach(&self, ctx: &mut RequestContext, j: &Judged, pattern: &'static str, volume: String) -> Verdict {
        self.report(ctx, j, pattern, volume);
        self.still(j)
    }

    fn report(&self, ctx: &mut RequestContext, j: &Judged, pattern: &'static str, volume: String) {
        let e = &self.entries[j.entry].settings;
        let response = if e.mode == StageMode::Enforce { action_name(e.action) } else { "alert" };
        ctx.tag("exfiltration", pattern);
        tracing::warn!(target: "rampart::exfiltration", pattern, identity = %j.shown, route = %e.path, volume = %volume, response, "data budget breach");
        if let Some(sink) = &self.events {
            sink.emit(Event::Detection {
                at: SystemTime::now(),
                stage: "exfiltration",
                pattern,
                client: ctx.client,
                identity: j.shown.clone(),
                route: e.path.clone(),
                volume,
                response,
            });
        }
    }

    /// The refusal for an identity over its budget (`Continue` in detect mode or for alerts).
    fn still(&self, j: &Judged) -> Verdict {
        let e = &self.entries[j.entry].settings;
        if e.mode != StageMode::Enforce {
            return Verdict::Continue;
        }
        let reason = "data budget exceeded";
        match e.action {
            ExfilAction::Alert => Verdict::Continue,
            ExfilAction::Throttle => Verdict::Throttle { retry_after: retry_after(e.budget.per), reason: reason.into() },
            ExfilAction::Challenge => Verdict::Challenge { reason: reason.into() },
            ExfilAction::Block => Verdict::forbidden(reason),
        }
    }
}

/// Key domains in an entry's `used` window.
const REQUESTS: &[u8] = b"requests";
const RECORDS: &[u8] = b"records";
const KIB: &[u8] = b"kib";

fn used(entry: &Entry, what: &[u8], key: KeyHash, now: Instant) -> f64 {
    entry.used.count(derive(what, &[key.value()]), now).weighted
}

fn add(entry: &Entry, what: &[u8], key: KeyHash, n: u64, now: Instant) -> f64 {
    entry.used.observe(derive(what, &[key.value()]), u32::try_from(n).unwrap_or(u32::MAX), now).weighted
}

/// `path` is `prefix` or below it (`/contacts` covers `/contacts/7`, not `/contactsX`).
fn under(path: &str, prefix: &str) -> bool {
    prefix == "/" || path == prefix || path.strip_prefix(prefix).is_some_and(|r| r.starts_with('/') || prefix.ends_with('/'))
}

/// A short, stable, non-reversible label for a personal value.
fn hashed(value: &[u8]) -> String {
    format!("{:016x}", KeyHash::of_bytes(value).value())
}

/// The identity `source` gives `ctx`, if it applies: (key, shown, class member).
fn identity(source: &IdentitySource, ctx: &RequestContext) -> Option<(KeyHash, String, bool)> {
    match source {
        IdentitySource::Client => Some((KeyHash::of_ip(ctx.client), format!("client:{}", ctx.client), false)),
        IdentitySource::Prefix => {
            let net = prefix_of(ctx.client.to_canonical());
            Some((derive(b"prefix", &[KeyHash::of_ip(net.network()).value()]), format!("prefix:{net}"), false))
        }
        IdentitySource::Header(name) => {
            let v = ctx.headers.get(name)?.as_bytes();
            Some((KeyHash::of_bytes(v), format!("header:{name}#{}", hashed(v)), false))
        }
        IdentitySource::Cookie(name) => {
            let v = ctx.cookie(name)?.as_bytes();
            Some((KeyHash::of_bytes(v), format!("cookie:{name}#{}", hashed(v)), false))
        }
        IdentitySource::Clearance => {
            let v = ctx.identity.clearance.as_deref()?.as_bytes();
            Some((KeyHash::of_bytes(v), format!("clearance#{}", hashed(v)), false))
        }
        // A member by verified subject (a signed session), or by network (then per address).
        IdentitySource::Class(class) if &*ctx.identity.class == class.as_str() => match ctx.identity.subject.as_deref() {
            Some(subject) => Some((KeyHash::of_bytes(subject.as_bytes()), format!("{class}:subject#{}", hashed(subject.as_bytes())), true)),
            None => Some((derive(b"member", &[KeyHash::of_ip(ctx.client).value()]), format!("{class}:client:{}", ctx.client), true)),
        },
        IdentitySource::Class(_) => None,
    }
}

fn action_name(action: ExfilAction) -> &'static str {
    match action {
        ExfilAction::Block => "block",
        ExfilAction::Throttle => "throttle",
        ExfilAction::Challenge => "challenge",
        ExfilAction::Alert => "alert",
    }
}

/// Until a budget's period has slid by a tenth, in whole seconds.
fn retry_after(per: Duration) -> Duration {
    Duration::from_secs((per.as_secs() / 10).clamp(1, 3600))
}

impl Stage for ExfiltrationGuard {
    fn name(&self) -> &'static str {
        "exfiltration"
    }

    /// Enforce when any entry does; entries in detect mode report and never refuse.
    fn mode(&self) -> StageMode {
        if self.entries.iter().any(|e| e.settings.mode == StageMode::Enforce) {
            StageMode::Enforce
        } else {
            StageMode::Detect
        }
    }

    fn memory_bytes(&self) -> usize {
        self.entries.iter().map(|e| e.used.memory_bytes() + e.walk.as_ref().map_or(0, WalkDetector::memory_bytes)).sum()
    }

    fn wants_response_body(&self) -> bool {
        self.entries.iter().any(|e| e.settings.budget.records.is_some() || !e.settings.never_leave.is_empty())
    }

    fn wants_response_body_of(&self, ctx: &RequestContext) -> bool {
        ctx.extensions.get::<Judged>().is_some_and(|j| {
            let s = &self.entries[j.entry].settings;
            s.budget.records.is_some() || !s.never_leave.is_empty()
        })
    }

    fn on_request_headers(&self, ctx: &mut RequestContext) -> Result<Verdict, StageError> {
        let Some(j) = self.judge(ctx) else { return Ok(Verdict::Continue) };
        let now = self.clock.now();
        let entry = &self.entries[j.entry];
        let b = entry.settings.budget;
        ctx.extensions.insert(j.clone());
        let over = |what: &[u8], limit: Option<u64>| limit.is_some_and(|l| used(entry, what, j.key, now) >= l as f64);
        if over(RECORDS, b.records.map(u64::from)) || over(KIB, b.bytes.map(|n| n.div_ceil(1024))) {
            return Ok(self.still(&j));
        }
        let requests = add(entry, REQUESTS, j.key, 1, now);
        if let Some(limit) = b.requests {
            if requests >= f64::from(limit) + 1.0 {
                let first = requests < f64::from(limit) + 2.0;
                let volume = format!("{requests:.0} requests in {}s", b.per.as_secs());
                return Ok(if first { self.breach(ctx, &j, "budget_requests", volume) } else { self.still(&j) });
            }
        }
        let (Some(walk), Some(n)) = (&entry.walk, &entry.settings.enumeration) else { return Ok(Verdict::Continue) };
        let Some(id) = WalkDetector::id_of(n, ctx.path()) else { return Ok(Verdict::Continue) };
        if !j.member && walk.locked(now) {
            return Ok(self.still(&j));
        }
        let w = walk.view(j.key, id, !j.member, now);
        let per = n.per.as_secs();
        if w.steps_all >= f64::from(n.max_steps_all) && walk.lock(now, n.per) {
            let everyone = Judged { shown: "*".into(), ..j.clone() };
            let volume = format!("{:.0} sequential ids from many sources in {per}s", w.steps_all);
            return Ok(self.breach(ctx, &everyone, "enumeration_distributed", volume));
        }
        if w.steps >= f64::from(n.max_steps) || w.ids >= f64::from(n.max_ids) {
            let first = w.steps < f64::from(n.max_steps) + 1.0 && w.ids < f64::from(n.max_ids) + 1.0;
            let volume = format!("{:.0} ids, {:.0} sequential, in {per}s", w.ids, w.steps);
            return Ok(if first { self.breach(ctx, &j, "enumeration", volume) } else { self.still(&j) });
        }
        Ok(Verdict::Continue)
    }

    fn on_response_headers(&self, ctx: &mut RequestContext, resp: &ResponseFacts) -> Result<Verdict, StageError> {
        // Without a buffered body, bytes are counted from the declared length.
        let Some(j) = ctx.extensions.get::<Judged>().cloned() else { return Ok(Verdict::Continue) };
        if self.wants_response_body_of(ctx) {
            return Ok(Verdict::Continue);
        }
        let entry = &self.entries[j.entry];
        let len = resp.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if let (Some(len), Some(limit)) = (len, entry.settings.budget.bytes) {
            let after = add(entry, KIB, j.key, len.div_ceil(1024), self.clock.now());
            if after >= limit.div_ceil(1024) as f64 {
                let volume = format!("{:.0} KiB in {}s", after, entry.settings.budget.per.as_secs());
                return Ok(self.breach(ctx, &j, "budget_bytes", volume));
            }
        }
        Ok(Verdict::Continue)
    }

    fn on_response_body(&self, ctx: &mut RequestContext, resp: &ResponseFacts, body: &[u8]) -> Result<Verdict, StageError> {
        let Some(j) = ctx.extensions.get::<Judged>().cloned() else { return Ok(Verdict::Continue) };
        let entry = &self.entries[j.entry];
        let s = &entry.settings;
        if let Some(i) = s.never_leave.iter().position(|re| re.is_match(body)) {
            let volume = format!("a {}-byte response matching never_leave pattern #{}", body.len(), i + 1);
            self.breach(ctx, &j, "never_leave", volume);
            // Withheld whoever asked and whatever the action: this data must not go out.
            return Ok(match s.mode {
                StageMode::Enforce => Verdict::Block { status: 502, reason: "response withheld: it matched a never_leave pattern".into() },
                StageMode::Detect => Verdict::Continue,
            });
        }
        let now = self.clock.now();
        let n = records(&s.records_from, resp, body);
        let kib = (body.len() as u64).div_ceil(1024);
        let per = s.budget.per.as_secs();
        if let Some(limit) = s.budget.records {
            let before = used(entry, RECORDS, j.key, now);
            if before + n as f64 > f64::from(limit) {
                // Counted although withheld: the identity is over its budget for the rest of
                // the window, refused quietly at its next request instead of reported again.
                add(entry, RECORDS, j.key, n, now);
                let volume = format!("{:.0} records in {per}s, {n} more asked", before);
                return Ok(self.breach(ctx, &j, "budget_records", volume));
            }
        }
        if let Some(limit) = s.budget.bytes {
            let before = used(entry, KIB, j.key, now);
            if before + kib as f64 > limit.div_ceil(1024) as f64 {
                add(entry, KIB, j.key, kib, now);
                let volume = format!("{:.0} KiB in {per}s, {kib} KiB more asked", before);
                return Ok(self.breach(ctx, &j, "budget_bytes", volume));
            }
        }
        let records_now = add(entry, RECORDS, j.key, n, now);
        add(entry, KIB, j.key, kib, now);
        ctx.tag("records", n.to_string());
        // This response fits, and fills the budget: the next one will be refused.
        if s.budget.records.is_some_and(|l| records_now >= f64::from(l)) {
            self.report(ctx, &j, "budget_records", format!("{records_now:.0} records in {per}s"));
        }
        Ok(Verdict::Continue)
    }
}

#[cfg(test)]
mod tests;
