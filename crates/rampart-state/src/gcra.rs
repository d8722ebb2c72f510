//! [`GcraSketch`]: the generic cell rate algorithm (a token bucket kept as one timestamp per
//! key) with the timestamps stored in a count-min-shaped sketch, so that memory is fixed no
//! matter how many keys arrive.
//!
//! Each key's state is its *theoretical arrival time* (TAT): when the key's bucket will be
//! full again. A request at `t` conforms when `TAT - t <= tolerance` (`tolerance = burst ×
//! interval`), and then pushes TAT to `max(TAT, t) + interval`. Cells hold the greatest TAT
//! of every key that lands in them, and a key's TAT is the smallest of its `depth` cells: as
//! with counts, a collision can only make a key look busier, never let it through.
//!
//! Why GCRA rather than a two-slot sliding window for limits: it gives `rate` and `burst`
//! their exact, usual meaning (a steady `rate`, plus `burst` back-to-back requests after a
//! pause), an exact `Retry-After`, and it never needs clearing, so no request ever pays for
//! wiping a window's worth of counters. A flood of one-off spoofed addresses leaves only
//! timestamps at most one interval in the future behind it, which cannot push any other key
//! over its tolerance when `burst >= 1`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rampart_core::Rate;

use crate::budget::BudgetError;
use crate::clock::nanos_since;
use crate::hash::KeyHash;
use crate::shape::{SketchShape, DEFAULT_DEPTH};

/// Per-key GCRA state for many keys, in memory fixed at construction; lock-free.
pub struct GcraSketch {
    shape: SketchShape,
    /// TAT in nanoseconds since `start`; 0 for never seen.
    cells: Box<[AtomicU64]>,
    interval: u64,
    tolerance: u64,
    start: Instant,
}

impl GcraSketch {
    /// A limiter of `rate` with `burst` extra requests at once, fitting in `bytes`; `start`
    /// is the clock's reading now.
    pub fn with_budget(rate: Rate, burst: u32, bytes: usize, start: Instant) -> Result<GcraSketch, BudgetError> {
        let cells_bytes = bytes.saturating_sub(std::mem::size_of::<Self>());
        let shape = SketchShape::from_budget("rate limit sketch", cells_bytes, 8, DEFAULT_DEPTH)?;
        let per = u64::try_from(rate.per.as_nanos()).unwrap_or(u64::MAX);
        let interval = (per / rate.count.max(1)).max(1);
        let cells = (0..shape.cells()).map(|_| AtomicU64::new(0)).collect();
        Ok(GcraSketch { shape, cells, interval, tolerance: interval.saturating_mul(burst as u64), start })
    }

    /// Decide one request of `key` at `now`: `Ok` when it conforms (and is counted), or
    /// `Err(retry_after)`, the wait until the key's next request would conform. Refused
    /// requests are not counted, so a client that backs off is served again on time.
    #[inline]
    pub fn check(&self, key: KeyHash, now: Instant) -> Result<(), Duration> {
        let t = nanos_since(self.start, now);
        let tat = self
            .shape
            .slots(key)
            .map(|i| self.cells[i].load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
            .max(t);
        if tat - t > self.tolerance {
            return Err(Duration::from_nanos(tat - t - self.tolerance));
        }
        // Two racing requests of one key may both read the same TAT and both pass: at most
        // one extra request per concurrent thread, the price of staying lock-free.
        let next = tat.saturating_add(self.interval);
        for i in self.shape.slots(key) {
            self.cells[i].fetch_max(next, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The spacing between requests at the steady rate.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval)
    }

    /// Bytes held, exactly; fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.cells.len() * std::mem::size_of::<AtomicU64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn rate(count: u64, secs: u64) -> Rate {
        Rate { count, per: Duration::from_secs(secs) }
    }

    #[test]
    fn burst_then_steady_rate() {
        let clock = ManualClock::new();
        let g = GcraSketch::with_budget(rate(10, 1), 5, 64 * 1024, clock.now()).unwrap();
        let k = KeyHash::of_bytes(b"198.51.100.4");
        for _ in 0..6 {
            assert!(g.check(k, clock.now()).is_ok()); // one at rate + five of burst
        }
        assert_eq!(g.check(k, clock.now()), Err(Duration::from_millis(100)));
        clock.advance(Duration::from_millis(100));
        assert!(g.check(k, clock.now()).is_ok());
        assert!(g.check(k, clock.now()).is_err());
        // Other keys are untouched.
        assert!(g.check(KeyHash::of_bytes(b"198.51.100.5"), clock.now()).is_ok());
    }

    #[test]
    fn zero_burst_means_one_at_a_time() {
        let clock = ManualClock::new();
        let g = GcraSketch::with_budget(rate(2, 1), 0, 4096, clock.now()).unwrap();
        let k = KeyHash::of_u64(1);
        assert!(g.check(k, clock.now()).is_ok());
        assert_eq!(g.check(k, clock.now()), Err(Duration::from_millis(500)));
        clock.advance(Duration::from_millis(499));
        assert_eq!(g.check(k, clock.now()), Err(Duration::from_millis(1)));
        clock.advance(Duration::from_millis(1));
        assert!(g.check(k, clock.now()).is_ok());
    }
}
