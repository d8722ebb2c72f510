//! The flood defence: a traffic profile, a detector that compares it with a learned
//! baseline, and the mitigation that follows the mode.
//!
//! # Profile
//!
//! Every request is counted into the current *tick* (500 ms): requests, distinct sources (a
//! 64 Ki-bit linear-counting bitmap), upstream errors and latency (from the logging phase).
//! Three fixed-size heavy-hitter tables ([`TopK`]) hold request fingerprints, client addresses
//! and /24 (/64) prefixes: in normal mode one request in 16 is fingerprinted (enough for the
//! baseline, cheap on the hot path) and addresses are not tabled; once the mode rises, every
//! anonymous request is. A fingerprint is a hash of what a flood tool repeats and
//! a crowd of people does not: method, path shape (digits folded), header names in order,
//! `User-Agent` family, ALPN. Memory is fixed at construction, whatever the number of sources.
//!
//! # Detector
//!
//! At each tick the rate is compared with an exponentially weighted baseline learned while
//! the mode is normal (never during an attack, so a long flood cannot become the norm). With
//! `k` set by `sensitivity` (low 10, medium 5, high 3): a rate above `k ×` baseline (or
//! distinct sources above `k ×` theirs) for two ticks enters *elevated*; above `3k ×` (or
//! above `k ×` while upstream errors or latency triple) enters *under attack*. Each step down
//! needs `calm` (10 s) below `k/2 ×`: a flood that ends returns to normal within 20 s.
//! Rates below `min_rate` are never an attack, however they compare.
//!
//! When the mode rises, the fingerprints that explain the excess — those holding at least 5%
//! of the window and twice their baseline share — become the *attack fingerprints*.
//!
//! # Mitigation
//!
//! Priority classes and clearance holders are never challenged or dropped here. Others:
//!
//! | mode | attack fingerprint | anything else |
//! |---|---|---|
//! | normal | served | served |
//! | elevated | challenged | served |
//! | under attack | dropped (403) | challenged (API routes exempt: served) |
//!
//! In elevated and under-attack modes, addresses and prefixes whose share of the window
//! exceeds the heavy-hitter threshold are banned (TTL, capped per tick), and so are clients
//! that keep coming back challenged without ever solving.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use parking_lot::{Mutex, RwLock};
use rampart_core::{Event, EventSink, RequestContext, ResponseFacts, Stage, StageError, StageMode, Verdict};
use rampart_state::{BanList, BanOutcome, Clock, CountMinSketch, KeyHash, SketchShape, TopK};

use crate::challenge::ChallengeGate;
use crate::mitigation::{Mitigation, Mode};
use crate::rate_key::prefix_of;

mod profile;

use profile::{Baseline, TickCounters, ALPHA, SOURCE_BITS};
pub use profile::TickStats;

/// How far from the baseline counts as an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    Low,
    Medium,
    High,
}

impl Sensitivity {
    fn factor(self) -> f64 {
        match self {
            Sensitivity::Low => 10.0,
            Sensitivity::Medium => 5.0,
            Sensitivity::High => 3.0,
        }
    }
}

/// How the flood defence is configured.
#[derive(Debug, Clone)]
pub struct FloodSettings {
    pub sensitivity: Sensitivity,
    /// Requests per second below which nothing is an attack.
    pub min_rate: f64,
    /// The profile's resolution.
    pub tick: Duration,
    /// Calm needed for each step down.
    pub calm: Duration,
    /// How long automatic bans last.
    pub ban_for: Duration,
    /// Bans at most this many addresses and prefixes per tick.
    pub bans_per_tick: usize,
    /// An address above this many requests per second during an attack is banned (prefixes:
    /// four times as many).
    pub heavy_rate: f64,
    /// A client challenged this many times in a minute without solving is banned.
    pub unsolved_challenges: u32,
    pub mode: StageMode,
}

impl Default for FloodSettings {
    fn default() -> FloodSettings {
        FloodSettings {
            sensitivity: Sensitivity::Medium,
            min_rate: 50.0,
            tick: Duration::from_millis(500),
            calm: Duration::from_secs(10),
            ban_for: Duration::from_secs(600),
            bans_per_tick: 500,
            heavy_rate: 50.0,
            unsolved_challenges: 30,
            mode: StageMode::Enforce,
        }
    }
}

/// In normal mode, one request in this many is fingerprinted (with this weight).
const NORMAL_SAMPLE: u64 = 16;
const FINGERPRINT_SLOTS: usize = 64;
const HITTER_SLOTS: usize = 512;
/// Ticks the baseline learns before the detector trusts it.
const WARMUP_TICKS: u32 = 10;

struct DetectorState {
    tick_started: Instant,
    baseline: Baseline,
    /// Consecutive ticks above the elevated / under-attack thresholds, and calm ticks.
    hot: u32,
    severe: u32,
    calm: u32,
    /// Fingerprint shares learned in normal mode (top fingerprints only).
    fingerprint_shares: Vec<(u64, f64)>,
    last: TickStats,
    peak_rate: f64,
}

/// A heavy hitter the detector named, for events, the admin API and reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Hitter {
    pub key: String,
    pub count: u64,
}

/// What the detector says now: for `/api/status`, the console and incident reports.
#[derive(Debug, Clone)]
pub struct FloodStatus {
    pub mode: Mode,
    pub baseline_rate: f64,
    pub last: TickStats,
    pub peak_rate: f64,
    pub attack_fingerprints: Vec<Hitter>,
    pub top_addresses: Vec<Hitter>,
    pub top_prefixes: Vec<Hitter>,
}

/// The flood detector and its mitigation, as a stage.
pub struct Flood {
    settings: FloodSettings,
    mitigation: Arc<Mitigation>,
    gate: Option<Arc<ChallengeGate>>,
    bans: Arc<BanList>,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
    counters: TickCounters,
    fingerprints: TopK<String>,
    addresses: TopK<IpAddr>,
    prefixes: TopK<IpNet>,
    /// Challenges answered per address this minute (count-min), for "skips the challenge".
    challenged: CountMinSketch,
    challenged_reset: Mutex<Instant>,
    attack: RwLock<Vec<(u64, String)>>,
    sampler: AtomicU64,
    state: Mutex<DetectorState>,
}

impl Flood {
    pub fn new(
        settings: FloodSettings,
        mitigation: Arc<Mitigation>,
        gate: Option<Arc<ChallengeGate>>,
        bans: Arc<BanList>,
        clock: Arc<dyn Clock>,
        events: Arc<dyn EventSink>,
    ) -> Flood {
        let now = clock.now();
        Flood {
            settings,
            mitigation,
            gate,
            bans,
            clock,
            events,
            counters: TickCounters::new(),
            fingerprints: TopK::new(FINGERPRINT_SLOTS),
            addresses: TopK::new(HITTER_SLOTS),
            prefixes: TopK::new(HITTER_SLOTS),
            challenged: CountMinSketch::with_shape(SketchShape { depth: 4, width: 1 << 14 }),
            challenged_reset: Mutex::new(now),
            attack: RwLock::new(Vec::new()),
            sampler: AtomicU64::new(0),
            state: Mutex::new(DetectorState {
                tick_started: now,
                baseline: Baseline::default(),
                hot: 0,
                severe: 0,
                calm: 0,
                fingerprint_shares: Vec::new(),
                last: TickStats::default(),
                peak_rate: 0.0,
            }),
        }
    }

    /// The shared mode.
    pub fn mitigation(&self) -> &Arc<Mitigation> {
        &self.mitigation
    }

    /// Close the tick if it is over: called on every request and by a timer, so that the
    /// mode also steps down when traffic stops altogether.
    pub fn tick(&self) {
        let now = self.clock.now();
        let Some(mut st) = self.state.try_lock() else { return };
        let elapsed = now.duration_since(st.tick_started);
        if elapsed < self.settings.tick {
            return;
        }
        st.tick_started = now;
        let stats = self.counters.take(elapsed);
        self.evaluate(&mut st, stats, now);
    }

    fn evaluate(&self, st: &mut DetectorState, stats: TickStats, now: Instant) {
        let k = self.settings.sensitivity.factor();
        let before = self.mitigation.detected();
        let warm = st.baseline.ticks >= WARMUP_TICKS;
        let base_rate = st.baseline.rate.max(self.settings.min_rate / k);
        let base_sources = st.baseline.sources.max(10.0);
        let rate_score = stats.rate / base_rate;
        let source_score = stats.sources / base_sources;
        let above_floor = stats.rate >= self.settings.min_rate;
        let upstream_hurt = stats.error_ratio > 0.2
            || (st.baseline.latency_ms > 0.0 && stats.latency_ms > 3.0 * st.baseline.latency_ms.max(1.0));
        let hot = warm && above_floor && (rate_score > k || source_score > k);
        let severe = hot && (rate_score > 3.0 * k || upstream_hurt);
        let calm = !above_floor || (rate_score < k / 2.0 && source_score < k / 2.0);
        st.hot = if hot { st.hot + 1 } else { 0 };
        st.severe = if severe { st.severe + 1 } else { 0 };
        st.calm = if calm { st.calm + 1 } else { 0 };
        st.last = stats;
        st.peak_rate = if before == Mode::Normal && !hot { 0.0 } else { st.peak_rate.max(stats.rate) };

        let calm_ticks = (self.settings.calm.as_secs_f64() / self.settings.tick.as_secs_f64()).ceil() as u32;
        let next = if st.severe >= 2 {
            Mode::UnderAttack
        } else if st.hot >= 2 && before == Mode::Normal {
            Mode::Elevated
        } else if before != Mode::Normal && st.calm >= calm_ticks.max(1) {
            st.calm = 0;
            if before == Mode::UnderAttack {
                Mode::Elevated
            } else {
                Mode::Normal
            }
        } else {
            before
        };

        if next == Mode::Normal && before == Mode::Normal && !hot {
            st.baseline.learn(&stats);
            self.learn_fingerprints(st);
        }
        if next > before {
            self.name_attack_fingerprints(st);
        }
        if next != before {
            let reason = format!(
                "{:.0} req/s against a baseline of {:.0} ({:.1}x), {:.0} distinct sources ({:.1}x), upstream errors {:.0}%",
                stats.rate,
                st.baseline.rate,
                rate_score,
                stats.sources,
                source_score,
                stats.error_ratio * 100.0
            );
            let fingerprints: Vec<String> = self.attack.read().iter().map(|(_, k)| k.clone()).collect();
            tracing::warn!(target: "rampart::flood", from = before.as_str(), to = next.as_str(), reason = %reason, fingerprints = ?fingerprints, "mitigation mode changed");
            self.mitigation.set_detected(next, now);
            self.events.emit(Event::ModeChange {
                at: SystemTime::now(),
                from: before.as_str(),
                to: next.as_str(),
                reason,
                fingerprints,
            });
            if next == Mode::Normal {
                self.attack.write().clear();
            }
        } else {
            self.mitigation.refresh(now);
        }
        if self.mitigation.mode() != Mode::Normal {
            self.ban_heavy_hitters(now);
        }
        // The heavy-hitter tables describe the last few seconds, not all time.
        if st.baseline.ticks.is_multiple_of(4) || self.mitigation.mode() != Mode::Normal {
            self.addresses.clear();
            self.prefixes.clear();
        }
        if self.mitigation.mode() == Mode::Normal {
            self.fingerprints.clear();
        }
        let mut reset = self.challenged_reset.lock();
        if now.duration_since(*reset) >= Duration::from_secs(60) {
            self.challenged.clear();
            *reset = now;
        }
    }

    fn learn_fingerprints(&self, st: &mut DetectorState) {
        let top = self.fingerprints.top(FINGERPRINT_SLOTS);
        let total: u64 = top.iter().map(|h| h.count).sum();
        if total == 0 {
            return;
        }
        for h in &top {
            let share = h.count as f64 / total as f64;
            let hash = KeyHash::of_bytes(h.key.as_bytes()).value();
            let len = st.fingerprint_shares.len();
            match st.fingerprint_shares.iter_mut().find(|(k, _)| *k == hash) {
                Some((_, s)) => *s += ALPHA * (share - *s),
                None if len < FINGERPRINT_SLOTS * 2 => st.fingerprint_shares.push((hash, share * ALPHA)),
                None => {}
            }
        }
    }

    fn name_attack_fingerprints(&self, st: &DetectorState) {
        let top = self.fingerprints.top(FINGERPRINT_SLOTS);
        let total: u64 = top.iter().map(|h| h.count).sum::<u64>().max(1);
        let mut attack = self.attack.write();
        for h in top {
            let share = h.count as f64 / total as f64;
            let hash = KeyHash::of_bytes(h.key.as_bytes()).value();
            let usual = st.fingerprint_shares.iter().find(|(k, _)| *k == hash).map(|(_, s)| *s).unwrap_or(0.0);
            if share >= 0.05 && share > 2.0 * usual && !attack.iter().any(|(k, _)| *k == hash) {
                attack.push((hash, h.key));
            }
        }
    }

    fn ban_heavy_hitters(&self, now: Instant) {
        let tick = self.settings.tick.as_secs_f64();
        let per_addr = (self.settings.heavy_rate * tick).max(1.0) as u64;
        let mut budget = self.settings.bans_per_tick;
        let until = now + self.settings.ban_for;
        for h in self.addresses.top(HITTER_SLOTS) {
            if budget == 0 || h.count.saturating_sub(h.error) < per_addr {
                break;
            }
            budget -= 1;
            self.ban(IpNet::from(h.key), until, now, format!("flood: {} requests in {:.1}s", h.count, tick));
        }
        for h in self.prefixes.top(HITTER_SLOTS) {
            if budget == 0 || h.count.saturating_sub(h.error) < per_addr * 4 {
                break;
            }
            budget -= 1;
            self.ban(h.key, until, now, format!("flood: {} requests from {} in {:.1}s", h.count, h.key, tick));
        }
    }

    fn ban(&self, net: IpNet, until: Instant, now: Instant, reason: String) {
        if self.settings.mode == StageMode::Detect {
            return;
        }
        if matches!(self.bans.ban(net, until, now), BanOutcome::Added) {
            let ttl = until.saturating_duration_since(now);
            self.events.emit(Event::Ban {
                at: SystemTime::now(),
                client: net.addr(),
                until: SystemTime::now() + ttl,
                reason: format!("{reason} ({net})"),
            });
        }
    }

    /// The detector's view, for the admin API and reports.
    pub fn status(&self) -> FloodStatus {
        let st = self.state.lock();
        FloodStatus {
            mode: self.mitigation.mode(),
            baseline_rate: st.baseline.rate,
            last: st.last,
            peak_rate: st.peak_rate,
            attack_fingerprints: self.attack.read().iter().map(|(_, k)| Hitter { key: k.clone(), count: 0 }).collect(),
            top_addresses: self.addresses.top(10).into_iter().map(|h| Hitter { key: h.key.to_string(), count: h.count }).collect(),
            top_prefixes: self.prefixes.top(10).into_iter().map(|h| Hitter { key: h.key.to_string(), count: h.count }).collect(),
        }
    }

    fn exempt(&self, path: &str) -> bool {
        self.gate.as_ref().is_some_and(|g| g.exempt(path))
    }

    fn count_unsolved(&self, client: IpAddr) {
        let n = self.challenged.increment(KeyHash::of_ip(client), 1);
        if n == self.settings.unsolved_challenges {
            let now = self.clock.now();
            let until = now + self.settings.ban_for;
            self.ban(IpNet::from(client), until, now, format!("{n} challenges in a minute, none solved"));
        }
    }
}

/// The fingerprint of a request: what a flood tool repeats.
pub fn fingerprint(ctx: &RequestContext) -> String {
    let mut shape = String::with_capacity(64);
    shape.push_str(ctx.method.as_str());
    shape.push(' ');
    for (i, seg) in ctx.uri.path().split('/').filter(|s| !s.is_empty()).enumerate() {
        if i == 3 {
            shape.push_str("/…");
            break;
        }
        shape.push('/');
        let mut last_digit = false;
        for c in seg.chars().take(24) {
            let d = c.is_ascii_digit();
            if !(d && last_digit) {
                shape.push(if d { '#' } else { c });
            }
            last_digit = d;
        }
    }
    if ctx.uri.query().is_some() {
        shape.push('?');
    }
    shape.push_str(" |");
    for name in ctx.headers.keys().take(16) {
        shape.push(' ');
        shape.push_str(name.as_str());
    }
    let ua = ctx.header("user-agent").unwrap_or("-");
    let family = ua.split(['/', ' ']).next().unwrap_or("-");
    shape.push_str(" | ");
    shape.push_str(family);
    if let Some(alpn) = ctx.tls.as_ref().and_then(|t| t.alpn.as_deref()) {
        shape.push_str(" | ");
        shape.push_str(alpn);
    }
    shape
}

impl Stage for Flood {
    fn name(&self) -> &'static str {
        "flood"
    }

    fn mode(&self) -> StageMode {
        self.settings.mode
    }

    fn memory_bytes(&self) -> usize {
        SOURCE_BITS / 8
            + TopK::<String>::bytes_for(FINGERPRINT_SLOTS)
            + TopK::<IpAddr>::bytes_for(HITTER_SLOTS)
            + TopK::<IpNet>::bytes_for(HITTER_SLOTS)
            + self.challenged.memory_bytes()
    }

    fn reads_request_headers_late(&self) -> bool {
        false
    }

    fn on_request_headers(&self, ctx: &mut RequestContext) -> Result<Verdict, StageError> {
        // Ticks are closed by the timer (`tick`), not on the request path.
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let client_hash = KeyHash::of_ip(ctx.client);
        self.counters.see_source(client_hash.value());
        if !ctx.identity.is_public() || ctx.identity.clearance.is_some() {
            return Ok(Verdict::Continue);
        }
        let mode = self.mitigation.mode();
        if mode == Mode::Normal {
            // In calm, a sample of fingerprints is enough for the baseline; the address tables
            // only matter once there is something to ban.
            if self.sampler.fetch_add(1, Ordering::Relaxed).is_multiple_of(NORMAL_SAMPLE) {
                let fp = fingerprint(ctx);
                self.fingerprints.offer(KeyHash::of_bytes(fp.as_bytes()), NORMAL_SAMPLE, || fp);
            }
            return Ok(Verdict::Continue);
        }
        let fp = fingerprint(ctx);
        let fp_hash = KeyHash::of_bytes(fp.as_bytes());
        self.fingerprints.offer(fp_hash, 1, || fp);
        self.addresses.offer(client_hash, 1, || ctx.client);
        let net = prefix_of(ctx.client.to_canonical());
        self.prefixes.offer(KeyHash::of_ip(net.network()), 1, || net);
        let matches = self.attack.read().iter().any(|(h, _)| *h == fp_hash.value());
        let exempt = self.exempt(ctx.path());
        let verdict = match (mode, matches) {
            (Mode::UnderAttack, true) => Verdict::Block { status: 403, reason: "flood: attack fingerprint dropped".into() },
            (Mode::Elevated, true) if exempt => {
                Verdict::Throttle { retry_after: Duration::from_secs(5), reason: "flood: attack fingerprint".into() }
            }
            (Mode::Elevated, true) => Verdict::Challenge { reason: "flood: attack fingerprint".into() },
            (Mode::UnderAttack, false) if !exempt => Verdict::Challenge { reason: "flood: under attack".into() },
            _ => Verdict::Continue,
        };
        if matches!(verdict, Verdict::Challenge { .. }) && self.settings.mode == StageMode::Enforce {
            self.count_unsolved(ctx.client);
        }
        Ok(verdict)
    }

    fn on_logging(&self, ctx: &RequestContext, resp: Option<&ResponseFacts>) {
        let Some(resp) = resp else { return };
        self.counters.answered.fetch_add(1, Ordering::Relaxed);
        if resp.status.is_server_error() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(ctx.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.counters.latency_us.fetch_add(us, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
