//! [`RateLimiter`]: one configured rate limit's whole state, bounded by a byte ceiling.
//!
//! * a [`GcraSketch`] decides each request (rate + burst, exact `Retry-After`);
//! * a [`SlidingWindow`] counts each key's violations, so that a caller can escalate a key
//!   that keeps pushing (`ban = { after = 10, ... }`);
//! * a [`TopK`] keeps the heaviest offenders by violations, for reports and the console.
//!
//! All three are allocated at construction from the one ceiling, and nothing grows after.

use std::time::{Duration, Instant};

use rampart_core::Rate;

use crate::budget::{BudgetError, Demand, MemoryBudget};
use crate::gcra::GcraSketch;
use crate::hash::KeyHash;
use crate::label::KeyLabel;
use crate::shape::{DEFAULT_DEPTH, MIN_WIDTH};
use crate::sketch::CountMinSketch;
use crate::topk::{HeavyHitter, TopK};
use crate::window::SlidingWindow;

/// How one limit is sized and shaped. Built by the shield from validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterSettings {
    /// The steady rate a key may keep up.
    pub rate: Rate,
    /// Requests a key may send at once above the steady rate, after a pause (nginx's
    /// meaning). Default 0: one at a time.
    pub burst: u32,
    /// The hard ceiling on this limiter's memory, in bytes.
    pub memory_bytes: usize,
    /// How long violations are remembered for escalation. Default one minute.
    pub violation_window: Duration,
    /// How many heavy offenders are kept by name. Default 32.
    pub top_k: usize,
}

impl LimiterSettings {
    pub fn new(rate: Rate, burst: u32, memory_bytes: usize) -> LimiterSettings {
        LimiterSettings { rate, burst, memory_bytes, violation_window: Duration::from_secs(60), top_k: 32 }
    }

    /// The least `memory_bytes` a limiter with `top_k` offender slots accepts: what to ask
    /// of a [`MemoryBudget`] as the limiter's minimum.
    pub fn min_memory_bytes(top_k: usize) -> usize {
        RateLimiter::fixed_bytes(top_k) + gcra_min() + window_min()
    }
}

fn gcra_min() -> usize {
    std::mem::size_of::<GcraSketch>() + DEFAULT_DEPTH * MIN_WIDTH * 8
}

fn window_min() -> usize {
    std::mem::size_of::<SlidingWindow>() + 2 * (std::mem::size_of::<CountMinSketch>() + DEFAULT_DEPTH * MIN_WIDTH * 4)
}

/// What the limiter says about one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimitDecision {
    /// Within the limit, and counted.
    Allowed,
    /// Over the limit: the key should wait `retry_after`. `violations` is how many times
    /// (sliding, including this one) the key was over in the last `violation_window`.
    Limited { retry_after: Duration, violations: u32 },
}

/// One rate limit's state: lock-free on the allowed path, fixed memory.
pub struct RateLimiter {
    gcra: GcraSketch,
    violations: SlidingWindow,
    offenders: TopK<KeyLabel>,
}

impl RateLimiter {
    /// Share `settings.memory_bytes` out: the offenders' slots first, then three quarters of
    /// the rest to the limit itself (every key needs it) and a quarter to violation counts
    /// (only offenders touch them). Refuses a ceiling too small for the minimum sketches.
    pub fn new(settings: &LimiterSettings, start: Instant) -> Result<RateLimiter, BudgetError> {
        let mut budget = MemoryBudget::new(settings.memory_bytes);
        budget.reserve("rate limiter", Self::fixed_bytes(settings.top_k))?;
        let shares = budget.split(&[
            Demand::new("rate limit sketch", gcra_min(), 3),
            Demand::new("violation counts", window_min(), 1),
        ])?;
        Ok(RateLimiter {
            gcra: GcraSketch::with_budget(settings.rate, settings.burst, shares[0], start)?,
            violations: SlidingWindow::with_budget(shares[1], settings.violation_window, start)?,
            offenders: TopK::new(settings.top_k),
        })
    }

    /// The struct's own bytes besides its sketches, plus the offenders' slots.
    fn fixed_bytes(top_k: usize) -> usize {
        std::mem::size_of::<Self>() - std::mem::size_of::<GcraSketch>() - std::mem::size_of::<SlidingWindow>()
            - std::mem::size_of::<TopK<KeyLabel>>()
            + TopK::<KeyLabel>::bytes_for(top_k)
    }

    /// Decide one request of `key` at `now`. `label` names the key and is called only when
    /// the key is over the limit (so the allowed path never formats anything).
    #[inline]
    pub fn check(&self, key: KeyHash, now: Instant, label: impl FnOnce() -> KeyLabel) -> LimitDecision {
        match self.gcra.check(key, now) {
            Ok(()) => LimitDecision::Allowed,
            Err(retry_after) => {
                let seen = self.violations.observe(key, 1, now);
                self.offenders.offer(key, 1, label);
                let violations = seen.weighted.ceil().min(u32::MAX as f64) as u32;
                LimitDecision::Limited { retry_after, violations }
            }
        }
    }

    /// The `n` keys most often over the limit, heaviest first.
    pub fn top_offenders(&self, n: usize) -> Vec<HeavyHitter<KeyLabel>> {
        self.offenders.top(n)
    }

    /// Bytes held, exactly; fixed at construction and never above the configured ceiling.
    pub fn memory_bytes(&self) -> usize {
        Self::fixed_bytes(0) - TopK::<KeyLabel>::bytes_for(0)
            + self.gcra.memory_bytes()
            + self.violations.memory_bytes()
            + self.offenders.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn settings(memory: usize) -> LimiterSettings {
        LimiterSettings::new(Rate { count: 5, per: Duration::from_secs(1) }, 2, memory)
    }

    #[test]
    fn limits_counts_violations_and_names_offenders() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::new(&settings(256 * 1024), clock.now()).unwrap();
        assert!(limiter.memory_bytes() <= 256 * 1024);
        let k = KeyHash::of_bytes(b"192.0.2.1");
        let label = || KeyLabel::new("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(limiter.check(k, clock.now(), label), LimitDecision::Allowed);
        }
        for n in 1..=4 {
            let d = limiter.check(k, clock.now(), label);
            assert_eq!(d, LimitDecision::Limited { retry_after: Duration::from_millis(200), violations: n });
        }
        assert_eq!(limiter.top_offenders(1)[0].key.as_str(), "192.0.2.1");
        assert_eq!(limiter.top_offenders(1)[0].count, 4);
    }

    #[test]
    fn refuses_a_ceiling_too_small() {
        let clock = ManualClock::new();
        assert!(matches!(RateLimiter::new(&settings(1024), clock.now()), Err(BudgetError::DoesNotFit { .. })));
        let min = LimiterSettings::min_memory_bytes(32);
        assert!(RateLimiter::new(&settings(min - 1), clock.now()).is_err());
        let smallest = RateLimiter::new(&settings(min), clock.now()).unwrap();
        assert!(smallest.memory_bytes() <= min);
    }

    #[test]
    fn one_ceiling_shared_by_a_ban_list_and_two_limits() {
        // What the binary does with `[state] memory_ceiling`: the ban list's bound first,
        // then the limits, each at least its minimum, weighted by the operator's rates.
        let mut budget = MemoryBudget::new(64 << 20);
        budget.reserve("ban list", crate::BanList::bytes_for(100_000)).unwrap();
        let min = LimiterSettings::min_memory_bytes(32);
        let shares = budget.split(&[Demand::new("rate_limit[0]", min, 3), Demand::new("rate_limit[1]", min, 1)]).unwrap();
        let clock = ManualClock::new();
        let total: usize = shares
            .iter()
            .map(|&bytes| RateLimiter::new(&settings(bytes), clock.now()).unwrap().memory_bytes())
            .sum();
        assert!(total + crate::BanList::bytes_for(100_000) <= 64 << 20);
        let mut tiny = MemoryBudget::new(min);
        assert!(tiny.split(&[Demand::new("a", min, 1), Demand::new("b", min, 1)]).is_err());
    }

    #[test]
    fn threads_share_one_limiter() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::new(&settings(256 * 1024), clock.now()).unwrap();
        let now = clock.now();
        let allowed = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (limiter, allowed) = (&limiter, &allowed);
                s.spawn(move || {
                    for i in 0..10_000u64 {
                        let key = KeyHash::of_u64(i % 100 + t * 1000);
                        if limiter.check(key, now, || KeyLabel::new("k")) == LimitDecision::Allowed {
                            allowed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        // 400 keys, 3 each (1 + burst 2) at one instant; racing threads never share a key here.
        assert_eq!(allowed.into_inner(), 1200);
    }
}
