//! The flood detector's traffic profile: what one tick counted, lock-free on the request path,
//! and the baseline it is compared with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bits of the distinct-source bitmap (linear counting).
pub(super) const SOURCE_BITS: usize = 1 << 16;
/// Baseline smoothing per tick: about a minute of memory at 500 ms ticks.
pub(super) const ALPHA: f64 = 1.0 / 120.0;

/// What one tick saw.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TickStats {
    pub rate: f64,
    pub sources: f64,
    pub error_ratio: f64,
    pub latency_ms: f64,
}

/// The detector's smoothed view of normal traffic.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Baseline {
    pub(super) rate: f64,
    pub(super) sources: f64,
    pub(super) latency_ms: f64,
    pub(super) ticks: u32,
}

impl Baseline {
    pub(super) fn learn(&mut self, s: &TickStats) {
        if self.ticks == 0 {
            self.rate = s.rate;
            self.sources = s.sources;
            self.latency_ms = s.latency_ms;
        } else {
            self.rate += ALPHA * (s.rate - self.rate);
            self.sources += ALPHA * (s.sources - self.sources);
            if s.latency_ms > 0.0 {
                self.latency_ms += ALPHA * (s.latency_ms - self.latency_ms);
            }
        }
        self.ticks = self.ticks.saturating_add(1);
    }
}

/// Counters of one tick, updated lock-free on the request path.
pub(super) struct TickCounters {
    pub(super) requests: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) answered: AtomicU64,
    pub(super) latency_us: AtomicU64,
    sources: Box<[AtomicU64]>,
}

impl TickCounters {
    pub(super) fn new() -> TickCounters {
        TickCounters {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            latency_us: AtomicU64::new(0),
            sources: (0..SOURCE_BITS / 64).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(super) fn see_source(&self, h: u64) {
        let bit = (h as usize) % SOURCE_BITS;
        self.sources[bit / 64].fetch_or(1 << (bit % 64), Ordering::Relaxed);
    }

    /// Linear counting: `-m ln(V)` with `V` the fraction of zero bits.
    fn distinct_sources(&self) -> f64 {
        let ones: u32 = self.sources.iter().map(|w| w.load(Ordering::Relaxed).count_ones()).sum();
        let m = SOURCE_BITS as f64;
        let zeros = (m - f64::from(ones)).max(1.0);
        -m * (zeros / m).ln()
    }

    pub(super) fn take(&self, tick: Duration) -> TickStats {
        let requests = self.requests.swap(0, Ordering::Relaxed) as f64;
        let errors = self.errors.swap(0, Ordering::Relaxed) as f64;
        let answered = self.answered.swap(0, Ordering::Relaxed) as f64;
        let latency = self.latency_us.swap(0, Ordering::Relaxed) as f64;
        let sources = self.distinct_sources();
        for w in self.sources.iter() {
            w.store(0, Ordering::Relaxed);
        }
        let secs = tick.as_secs_f64().max(1e-3);
        TickStats {
            rate: requests / secs,
            sources,
            error_ratio: if answered > 0.0 { errors / answered } else { 0.0 },
            latency_ms: if answered > 0.0 { latency / answered / 1000.0 } else { 0.0 },
        }
    }
}

