//! What came back: every response sorted into one [`Outcome`], counted, and its latency kept in
//! a histogram. Nothing is stored per request, so a ten-million-request drill takes the memory
//! of a ten-request one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// The response header by which Rampart marks its challenge page.
pub const CHALLENGE_HEADER: &str = "x-rampart-challenge";

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx or 3xx.
    Passed,
    /// 403 with an `x-rampart-challenge` header: the challenge page.
    Challenged,
    /// 429.
    Throttled,
    /// 403 without the challenge header.
    Blocked,
    /// 503: load shed.
    Shed,
    /// Any other status (404, 400, 502...), counted per status.
    Other(u16),
    /// No response: the connection was refused, reset or closed, or the deadline passed.
    Error(ErrorKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Connect,
    Timeout,
    Reset,
}

impl Outcome {
    /// Sort a response.
    pub fn of(status: u16, challenge_header: bool) -> Outcome {
        match status {
            200..=399 => Outcome::Passed,
            403 if challenge_header => Outcome::Challenged,
            403 => Outcome::Blocked,
            429 => Outcome::Throttled,
            503 => Outcome::Shed,
            s => Outcome::Other(s),
        }
    }
}

/// Latencies are kept from 1 µs to 10 minutes at 3 significant digits.
const MAX_LATENCY_US: u64 = 600_000_000;

/// Counters and a latency histogram, shared by every task of a drill (or of its probe).
pub struct Tally {
    passed: AtomicU64,
    challenged: AtomicU64,
    throttled: AtomicU64,
    blocked: AtomicU64,
    shed: AtomicU64,
    other: AtomicU64,
    connect_errors: AtomicU64,
    timeouts: AtomicU64,
    resets: AtomicU64,
    /// At most one entry per status code (< 1,000), so bounded.
    other_statuses: Mutex<BTreeMap<u16, u64>>,
    latency: Mutex<Histogram<u64>>,
    /// The probe's slowest responses and when they came, counted from `since`: a p99 over a
    /// long run says how bad, this says when (the seconds before detection, or all along).
    slowest: Option<(Instant, Mutex<Vec<SlowResponse>>)>,
    /// Clearances the probe earned (`--probe-solve`), the first [`EARNED_KEPT`] of them.
    earned: Mutex<Vec<Earned>>,
}

/// How many of the slowest responses a traced tally keeps.
const SLOWEST_KEPT: usize = 5;

/// How many earned clearances a tally lists.
const EARNED_KEPT: usize = 16;

/// A clearance the probe earned by solving a challenge.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Earned {
    /// When the probe asked for the challenge, in seconds from the start of the drill.
    pub at_s: f64,
    /// Asking, solving and redeeming, in milliseconds.
    pub took_ms: f64,
    /// Asked for ahead of time (`GET /.rampart/challenge`), not met on a request.
    pub ahead: bool,
}

/// One slow response of a traced tally.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SlowResponse {
    /// When the request was sent, in seconds from the start of the drill.
    pub at_s: f64,
    pub latency_ms: f64,
}

impl Tally {
    pub fn new() -> Tally {
        let latency = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap_or_else(|_| Histogram::new(3).expect("histogram with 3 digits"));
        Tally {
            passed: AtomicU64::new(0),
            challenged: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            blocked: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            other: AtomicU64::new(0),
            connect_errors: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            other_statuses: Mutex::new(BTreeMap::new()),
            latency: Mutex::new(latency),
            slowest: None,
            earned: Mutex::new(Vec::new()),
        }
    }

    /// A tally that also keeps its slowest responses and when they were sent (for the probe:
    /// a few requests a second, so the lock costs nothing).
    pub fn traced(since: Instant) -> Tally {
        Tally { slowest: Some((since, Mutex::new(Vec::new()))), ..Tally::new() }
    }

    /// Count one outcome; responses (not errors) also record `latency`.
    pub fn record(&self, outcome: Outcome, latency: Duration) {
        let counter = match outcome {
            Outcome::Passed => &self.passed,
            Outcome::Challenged => &self.challenged,
            Outcome::Throttled => &self.throttled,
            Outcome::Blocked => &self.blocked,
            Outcome::Shed => &self.shed,
            Outcome::Other(status) => {
                *self.other_statuses.lock().unwrap_or_else(|p| p.into_inner()).entry(status).or_insert(0) += 1;
                &self.other
            }
            Outcome::Error(ErrorKind::Connect) => &self.connect_errors,
            Outcome::Error(ErrorKind::Timeout) => &self.timeouts,
            Outcome::Error(ErrorKind::Reset) => &self.resets,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if !matches!(outcome, Outcome::Error(_)) {
            let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
            let _ = self.latency.lock().unwrap_or_else(|p| p.into_inner()).record(us);
            if let Some((since, slowest)) = &self.slowest {
                let sent = Instant::now().checked_sub(latency).unwrap_or(*since);
                let slow = SlowResponse {
                    at_s: (sent.saturating_duration_since(*since).as_secs_f64() * 100.0).round() / 100.0,
                    latency_ms: (latency.as_secs_f64() * 10_000.0).round() / 10.0,
                };
                let mut kept = slowest.lock().unwrap_or_else(|p| p.into_inner());
                kept.push(slow);
                kept.sort_by(|a, b| b.latency_ms.total_cmp(&a.latency_ms));
                kept.truncate(SLOWEST_KEPT);
            }
        }
    }

    /// Note a clearance earned in `took`, asked for at `asked` (a traced tally's clock; the
    /// tally's creation otherwise).
    pub fn earned(&self, asked: Instant, took: Duration, ahead: bool) {
        let since = self.slowest.as_ref().map(|(since, _)| *since).unwrap_or(asked);
        let mut kept = self.earned.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() < EARNED_KEPT {
            kept.push(Earned {
                at_s: (asked.saturating_duration_since(since).as_secs_f64() * 100.0).round() / 100.0,
                took_ms: (took.as_secs_f64() * 10_000.0).round() / 10.0,
                ahead,
            });
        }
    }

    /// The counts and percentiles now.
    pub fn summary(&self) -> Summary {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let errors = Errors { connect: get(&self.connect_errors), timeout: get(&self.timeouts), reset: get(&self.resets) };
        let counts = Counts {
            passed: get(&self.passed),
            challenged: get(&self.challenged),
            throttled: get(&self.throttled),
            blocked: get(&self.blocked),
            shed: get(&self.shed),
            other: get(&self.other),
            errors: errors.connect + errors.timeout + errors.reset,
        };
        let h = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        let latency_ms = (!h.is_empty()).then(|| Latency { p50: ms(0.50), p95: ms(0.95), p99: ms(0.99), max: h.max() as f64 / 1000.0 });
        let other_statuses = self.other_statuses.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(s, n)| (s.to_string(), *n)).collect();
        let slowest = match &self.slowest {
            Some((_, kept)) => kept.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            None => Vec::new(),
        };
        let earned = self.earned.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Summary { requests: counts.total(), counts, errors, other_statuses, latency_ms, slowest, earned }
    }
}

/// One tally, read.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub requests: u64,
    pub counts: Counts,
    pub errors: Errors,
    /// The statuses counted as `other`, by code.
    pub other_statuses: BTreeMap<String, u64>,
    /// Over every response (errors have no latency). `None` when nothing was answered.
    pub latency_ms: Option<Latency>,
    /// A traced tally's slowest responses, slowest first, with when they were sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slowest: Vec<SlowResponse>,
    /// Clearances earned by solving challenges (`--probe-solve`), the first 16.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub earned: Vec<Earned>,
}

impl Summary {
    /// Share of requests in `n`, in percent (0 when there were none).
    pub fn pct(&self, n: u64) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            n as f64 * 100.0 / self.requests as f64
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Counts {
    pub passed: u64,
    pub challenged: u64,
    pub throttled: u64,
    pub blocked: u64,
    pub shed: u64,
    pub other: u64,
    pub errors: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.passed + self.challenged + self.throttled + self.blocked + self.shed + self.other + self.errors
    }

    /// `(name, count)` in report order.
    pub fn rows(&self) -> [(&'static str, u64); 7] {
        [
            ("passed", self.passed),
            ("challenged", self.challenged),
            ("throttled", self.throttled),
            ("blocked", self.blocked),
            ("shed", self.shed),
            ("other", self.other),
            ("errors", self.errors),
        ]
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Errors {
    pub connect: u64,
    pub timeout: u64,
    pub reset: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert_eq!(Outcome::of(200, false), Outcome::Passed);
        assert_eq!(Outcome::of(302, false), Outcome::Passed);
        assert_eq!(Outcome::of(403, true), Outcome::Challenged);
        assert_eq!(Outcome::of(403, false), Outcome::Blocked);
        assert_eq!(Outcome::of(429, false), Outcome::Throttled);
        assert_eq!(Outcome::of(503, false), Outcome::Shed);
        assert_eq!(Outcome::of(404, false), Outcome::Other(404));
    }

    #[test]
    fn summary_counts_and_percentiles() {
        let t = Tally::new();
        for i in 1..=100u64 {
            t.record(Outcome::Passed, Duration::from_millis(i));
        }
        t.record(Outcome::Other(404), Duration::from_millis(1));
        t.record(Outcome::Error(ErrorKind::Timeout), Duration::from_secs(5));
        let s = t.summary();
        assert_eq!(s.requests, 102);
        assert_eq!((s.counts.passed, s.counts.other, s.counts.errors, s.errors.timeout), (100, 1, 1, 1));
        assert_eq!(s.other_statuses.get("404"), Some(&1));
        let l = s.latency_ms.unwrap();
        assert!((49.0..=51.0).contains(&l.p50), "{l:?}");
        assert!((98.0..=100.1).contains(&l.p99), "{l:?}");
    }
}
