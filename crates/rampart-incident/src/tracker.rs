//! [`Tracker`]: opens, follows and closes incidents from the shield's events and finished
//! requests.
//!
//! It is an [`EventSink`] (mode changes, detections, bans, refused connections) and the last
//! [`Stage`], with only a logging hook (every finished request: its client, identity, latency
//! and decisions). It opens an incident when the flood detector leaves normal, when the WAF
//! blocks more than `waf_threshold` requests per second over 10 s, on a login or exfiltration
//! guard's detection, or when an operator asks ([`Tracker::open_manual`]); it closes it after
//! `calm_after` with the mode at normal and nothing new. Everything it holds is bounded: one
//! open incident with fixed-size sketches, a minute of per-second history, the last few
//! closed incidents.
//!
//! Hooks only count under a short lock; files are written by [`Tracker::tick`] (the binary
//! calls it a few times a second from its own thread): the open incident at most once a
//! second when it changed, and each incident as it closes.

use std::collections::VecDeque;
use std::net::IpAddr;

use parking_lot::Mutex;
use rampart_core::{Decision, Event, EventSink, RequestContext, ResponseFacts, Stage, Tag};

use crate::building::Building;
use crate::latency::{Group, GroupsAcc};
use crate::model::{EntryKind, Groups, Incident, Point, VectorKind};
use crate::settings::Settings;
use crate::store::Store;
use crate::time::Timestamp;

pub use crate::building::{MAX_POINTS, MAX_TIMELINE};

/// Seconds of per-second history kept while calm (the first sign is looked for in it).
const RECENT: usize = 60;
/// The WAF burst window, in seconds.
const WAF_WINDOW: usize = 10;
/// Closed incidents kept in memory for the admin API.
const KEEP_CLOSED: usize = 16;
/// Bans written to the timeline one by one; the rest are counted.
const BAN_ENTRIES: u64 = 5;
/// The legitimate users' baseline window, in seconds (two are kept).
const BASELINE_WINDOW: u64 = 60;

/// One finished request as the tracker counts it.
pub struct Sample<'a> {
    pub client: IpAddr,
    pub group: Group,
    /// Reached the app and got no 5xx.
    pub served: bool,
    pub latency_us: u64,
    pub decisions: &'a [Decision],
    pub tags: &'a [Tag],
}

impl<'a> Sample<'a> {
    /// From the request's context and the upstream's answer (`None`: it never got one).
    pub fn of(ctx: &'a RequestContext, resp: Option<&ResponseFacts>) -> Sample<'a> {
        let refused = ctx.decisions.iter().any(|d| d.enforced && d.verdict.is_disruptive());
        let group = if !ctx.identity.is_public() {
            Group::Priority
        } else if ctx.identity.clearance.is_some() {
            Group::Clearance
        } else {
            Group::Public
        };
        Sample {
            client: ctx.client,
            group,
            served: !refused && resp.is_some_and(|r| r.status.as_u16() < 500),
            latency_us: ctx.started.elapsed().as_micros() as u64,
            decisions: &ctx.decisions,
            tags: &ctx.tags,
        }
    }
}

/// The incident tracker. Cheap to share (`Arc`); survives reloads ([`Tracker::reconfigure`]).
pub struct Tracker {
    inner: Mutex<Inner>,
}

struct Inner {
    settings: Settings,
    /// The flood mode as last reported (0 normal, 1 elevated, 2 under attack).
    mode: u8,
    sec: u64,
    cur: Point,
    cur_waf: u64,
    /// The last [`RECENT`] finished seconds: (second, traffic, WAF blocks).
    recent: VecDeque<(u64, Point, u64)>,
    base_prev: GroupsAcc,
    base_cur: GroupsAcc,
    base_start: u64,
    open: Option<Building>,
    /// Legitimate users' service before the open incident.
    before: Groups,
    closed: VecDeque<Incident>,
    /// Closed incidents not written yet.
    unwritten: Vec<Incident>,
    dirty: bool,
    last_write: u64,
    day: String,
    seq: u32,
}

impl Tracker {
    pub fn new(settings: Settings) -> Tracker {
        Tracker {
            inner: Mutex::new(Inner {
                settings,
                mode: 0,
                sec: 0,
                cur: Point::default(),
                cur_waf: 0,
                recent: VecDeque::with_capacity(RECENT),
                base_prev: GroupsAcc::default(),
                base_cur: GroupsAcc::default(),
                base_start: 0,
                open: None,
                before: Groups::default(),
                closed: VecDeque::new(),
                unwritten: Vec::new(),
                dirty: false,
                last_write: 0,
                day: String::new(),
                seq: 0,
            }),
        }
    }

    /// New settings after a reload: the open incident and the history carry over.
    pub fn reconfigure(&self, settings: Settings) {
        self.inner.lock().settings = settings;
    }

    pub fn settings(&self) -> Settings {
        self.inner.lock().settings.clone()
    }

    /// Open an incident by hand (or note the reason in the open one). Returns its id.
    pub fn open_manual(&self, reason: &str) -> String {
        let now = Timestamp::now();
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        inner.roll(now.secs());
        let reason: String = reason.chars().take(500).collect();
        if let Some(b) = inner.open.as_mut() {
            b.note(now, EntryKind::Note, format!("operator: {reason}"));
            b.last_activity = now;
            inner.dirty = true;
            return b.incident.id.clone();
        }
        inner.open_at(now, format!("opened by an operator: {reason}"), true);
        inner.open.as_ref().map(|b| b.incident.id.clone()).unwrap_or_default()
    }

    /// The open incident as of now.
    pub fn current(&self) -> Option<Incident> {
        let inner = self.inner.lock();
        inner.open.as_ref().map(|b| b.snapshot(&inner.before))
    }

    /// The open incident and the last closed ones, newest first.
    pub fn recent(&self) -> Vec<Incident> {
        let inner = self.inner.lock();
        let open = inner.open.as_ref().map(|b| b.snapshot(&inner.before));
        open.into_iter().chain(inner.closed.iter().rev().cloned()).collect()
    }

    /// Count one finished request at `now`.
    pub fn record(&self, now: Timestamp, s: &Sample<'_>) {
        self.inner.lock().record(now, s);
    }

    /// Take in one event.
    pub fn event(&self, event: &Event) {
        self.inner.lock().event(event);
    }

    /// Close the incident if calm lasted long enough, and write what changed. Returns the
    /// incidents that closed.
    pub fn tick(&self) -> Vec<String> {
        self.tick_at(Timestamp::now())
    }

    /// [`Tracker::tick`] at a given time (tests).
    pub fn tick_at(&self, now: Timestamp) -> Vec<String> {
        let (writes, closed, dir) = {
            let mut inner = self.inner.lock();
            let closed = inner.close_if_calm(now);
            let mut writes = std::mem::take(&mut inner.unwritten);
            if inner.dirty && now.0.saturating_sub(inner.last_write) >= 1000 {
                if let Some(b) = &inner.open {
                    writes.push(b.snapshot(&inner.before));
                }
                inner.dirty = false;
                inner.last_write = now.0;
            }
            (writes, closed, inner.settings.dir.clone())
        };
        if let Some(dir) = dir {
            let store = Store::new(dir);
            for inc in &writes {
                if let Err(e) = store.write(inc) {
                    tracing::warn!(target: "rampart::incident", error = %e, "cannot write the incident");
                }
            }
        }
        closed
    }
}

impl Inner {
    /// Move the per-second clock to `sec`, finishing the seconds before it.
    fn roll(&mut self, sec: u64) {
        if self.sec == 0 {
            self.sec = sec;
            self.base_start = sec;
            self.cur.mode = self.mode;
        }
        if sec <= self.sec {
            return;
        }
        let done = std::mem::replace(&mut self.cur, Point { mode: self.mode, ..Point::default() });
        let waf = std::mem::take(&mut self.cur_waf);
        if self.recent.len() >= RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((self.sec, done, waf));
        if let Some(b) = self.open.as_mut() {
            b.second(self.sec, done);
        }
        self.sec = sec;
        if sec.saturating_sub(self.base_start) >= BASELINE_WINDOW {
            self.base_prev = std::mem::take(&mut self.base_cur);
            self.base_start = sec;
        }
    }

    fn record(&mut self, now: Timestamp, s: &Sample<'_>) {
        self.roll(now.secs());
        let refused = s.decisions.iter().any(|d| d.enforced && d.verdict.is_disruptive());
        self.cur.requests += 1;
        self.cur.refused += u64::from(refused);
        let waf_block = s.decisions.iter().any(|d| d.stage == "waf" && d.enforced && d.verdict.is_disruptive());
        if waf_block {
            self.cur_waf += 1;
            let window: u64 =
                self.recent.iter().rev().take(WAF_WINDOW - 1).map(|(_, _, w)| w).sum::<u64>() + self.cur_waf;
            let threshold = (self.settings.waf_threshold * WAF_WINDOW as f64).max(1.0);
            if window as f64 >= threshold {
                match self.open.as_mut() {
                    Some(b) => b.last_activity = now,
                    None => self.open_at(now, format!("WAF: {window} requests blocked in {WAF_WINDOW} s"), false),
                }
            }
        }
        let Some(b) = self.open.as_mut() else {
            self.base_cur.record(s.group, s.served, s.latency_us);
            return;
        };
        self.dirty = true;
        b.during.record(s.group, s.served, s.latency_us);
        b.source(s.client);
        b.incident.scale.total_requests += 1;
        b.incident.scale.refused_requests += u64::from(refused);
        for d in s.decisions.iter().filter(|d| d.verdict.is_disruptive()) {
            if b.mitigation(d.stage, d.verdict.kind(), d.enforced) {
                let how = if d.enforced { "" } else { " (detect only)" };
                let text = format!("first {} by {}{how}: {}", d.verdict.kind(), d.stage, d.verdict.reason());
                b.note(now, EntryKind::Mitigation, text);
            }
        }
        if waf_block {
            for t in s.tags.iter().filter(|t| t.key == "waf.rule") {
                if let Some(kind) = VectorKind::of_waf_rule(&t.value) {
                    if b.vector(kind, now, Some(&t.value)) {
                        b.note(now, EntryKind::Detection, format!("{} (WAF rule {})", kind.label(), t.value));
                    }
                }
            }
        }
    }

    /// Open an incident at `at`: the first sign is looked for in the last minute's traffic.
    fn open_at(&mut self, at: Timestamp, trigger: String, manual: bool) {
        let day = at.day_stamp();
        if day != self.day {
            self.seq = self.settings.dir.as_ref().map(|d| Store::new(d).max_seq(&day)).unwrap_or(0);
            self.day = day;
        }
        self.seq += 1;
        let id = format!("INC-{}-{:04}", self.day, self.seq);
        let s = &self.settings;
        let mut b = Building::new(id, at, trigger.clone(), manual, s.reporter.clone(), s.top_k);
        let mut before = self.base_prev.clone();
        before.merge(&self.base_cur);
        self.before = before.stats();
        // The minute before: the series starts there, and the first sign is its first second
        // well above the calm of its first third (or with refusals).
        let recent: Vec<(u64, Point)> = self.recent.iter().map(|(s, p, _)| (*s, *p)).collect();
        if let Some((start, _)) = recent.first() {
            b.start_series_at(*start);
            let third = &recent[..recent.len().div_ceil(3)];
            let calm = third.iter().map(|(_, p)| p.requests).sum::<u64>() / third.len().max(1) as u64;
            let sign = recent.iter().find(|(_, p)| p.requests > 2 * calm + 10 || p.refused > 0);
            for (sec, p) in &recent {
                b.second(*sec, *p);
            }
            if let Some((sec, p)) = sign.filter(|_| !manual) {
                let text = format!("{} requests/s, {} refused (calm: {calm} requests/s)", p.requests, p.refused);
                b.note(Timestamp(sec * 1000), EntryKind::FirstSign, text);
            }
        }
        if !b.incident.timeline.iter().any(|e| e.kind == EntryKind::FirstSign) {
            b.note(at, EntryKind::FirstSign, "no earlier sign in the minute before: the detection was the first");
        }
        b.note(at, EntryKind::Detection, format!("incident opened: {trigger}"));
        tracing::warn!(target: "rampart::incident", id = %b.incident.id, trigger, "incident opened");
        self.open = Some(b);
        self.dirty = true;
        self.last_write = 0;
    }

    /// Close the open incident when the mode is normal and nothing happened for `calm_after`.
    fn close_if_calm(&mut self, now: Timestamp) -> Vec<String> {
        self.roll(now.secs());
        let calm = self.settings.calm_after;
        let due =
            self.open.as_ref().is_some_and(|b| self.mode == 0 && now.since(b.last_activity) >= calm.as_millis() as u64);
        if !due {
            return Vec::new();
        }
        let Some(mut b) = self.open.take() else { return Vec::new() };
        let inc = b.close(now, calm, &self.before);
        tracing::warn!(
            target: "rampart::incident",
            id = %inc.id,
            requests = inc.scale.total_requests,
            refused = inc.scale.refused_requests,
            peak_rps = inc.scale.peak_rps,
            "incident closed"
        );
        let id = inc.id.clone();
        if self.closed.len() >= KEEP_CLOSED {
            self.closed.pop_front();
        }
        self.closed.push_back(inc.clone());
        self.unwritten.push(inc);
        self.dirty = false;
        vec![id]
    }
}

impl Timestamp {
    fn into_system(self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.0)
    }
}

impl EventSink for Tracker {
    fn emit(&self, event: Event) {
        self.event(&event);
    }
}

impl Stage for Tracker {
    fn name(&self) -> &'static str {
        "incident"
    }

    fn memory_bytes(&self) -> usize {
        // A distinct-count sketch, a top-K table, six latency histograms, a minute of seconds,
        // a bounded incident: a fixed few tens of kilobytes.
        64 * 1024
    }

    fn on_logging(&self, ctx: &RequestContext, resp: Option<&ResponseFacts>) {
        self.record(Timestamp::now(), &Sample::of(ctx, resp));
    }
}

mod events;
#[cfg(test)]
mod tests;
