//! [`SlidingWindow`]: how often each key was seen in the last `window`, in fixed memory.
//!
//! Two [`CountMinSketch`] slots, as in Pingora's `pingora-limits::rate`: one counts the
//! current window, the other holds the previous one. A key's count is the current slot plus
//! the previous slot weighted by how much of the previous window still lies inside the
//! sliding one (Cloudflare's sliding-window approximation). When a window ends, the stale
//! slot is cleared and becomes the current one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::budget::BudgetError;
use crate::clock::nanos_since;
use crate::hash::KeyHash;
use crate::sketch::CountMinSketch;

/// A key's count as [`SlidingWindow`] sees it at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowCount {
    pub current: u32,
    pub previous: u32,
    /// `current + previous × (share of the previous window still in view)`.
    pub weighted: f64,
}

/// Approximate per-key event counts over a sliding window.
pub struct SlidingWindow {
    slots: [CountMinSketch; 2],
    window_nanos: u64,
    start: Instant,
    /// Index of the current window since `start`; the current slot is `epoch % 2`.
    epoch: AtomicU64,
    /// Held by the one thread that clears a slot at a window's end; others do not wait.
    rotating: Mutex<()>,
}

impl SlidingWindow {
    /// A window of length `window` (at least 1 ms) whose two slots together fit in `bytes`;
    /// `start` is the clock's reading now.
    pub fn with_budget(bytes: usize, window: Duration, start: Instant) -> Result<SlidingWindow, BudgetError> {
        let per_slot = bytes.saturating_sub(std::mem::size_of::<Self>()) / 2;
        let slots = [CountMinSketch::with_budget(per_slot)?, CountMinSketch::with_budget(per_slot)?];
        let window_nanos = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX).max(1_000_000);
        Ok(SlidingWindow { slots, window_nanos, start, epoch: AtomicU64::new(0), rotating: Mutex::new(()) })
    }

    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window_nanos)
    }

    /// Count `n` events of `key` at `now`; returns the key's count including them.
    #[inline]
    pub fn observe(&self, key: KeyHash, n: u32, now: Instant) -> WindowCount {
        let (epoch, elapsed) = self.advance(now);
        let current = self.slots[(epoch % 2) as usize].increment(key, n);
        let previous = self.slots[((epoch + 1) % 2) as usize].estimate(key);
        Self::weigh(current, previous, elapsed)
    }

    /// The key's count at `now`, without counting anything.
    pub fn count(&self, key: KeyHash, now: Instant) -> WindowCount {
        let (epoch, elapsed) = self.advance(now);
        let current = self.slots[(epoch % 2) as usize].estimate(key);
        let previous = self.slots[((epoch + 1) % 2) as usize].estimate(key);
        Self::weigh(current, previous, elapsed)
    }

    /// Bytes held: both slots and the struct, exactly; fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() - 2 * std::mem::size_of::<CountMinSketch>()
            + self.slots.iter().map(CountMinSketch::memory_bytes).sum::<usize>()
    }

    fn weigh(current: u32, previous: u32, elapsed: f64) -> WindowCount {
        WindowCount { current, previous, weighted: current as f64 + previous as f64 * (1.0 - elapsed) }
    }

    /// Roll the slots forward to `now`'s window if it has begun; returns the epoch to use and
    /// the fraction of it already elapsed.
    fn advance(&self, now: Instant) -> (u64, f64) {
        let t = nanos_since(self.start, now);
        let due = t / self.window_nanos;
        if due > self.epoch.load(Ordering::Acquire) {
            // One thread clears; the others carry on with the old epoch meanwhile (their
            // counts land in the slot that is about to become "previous", which is right).
            if let Some(_guard) = self.rotating.try_lock() {
                let epoch = self.epoch.load(Ordering::Acquire);
                if due == epoch + 1 {
                    self.slots[(due % 2) as usize].clear();
                } else if due > epoch + 1 {
                    // A whole window passed with no traffic: both slots are stale.
                    self.slots[0].clear();
                    self.slots[1].clear();
                }
                if due > epoch {
                    self.epoch.store(due, Ordering::Release);
                }
            }
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let elapsed = if epoch == due {
            (t - epoch * self.window_nanos) as f64 / self.window_nanos as f64
        } else if due > epoch {
            1.0 // still rotating: the previous slot is about to be dropped
        } else {
            0.0
        };
        (epoch, elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    #[test]
    fn previous_window_fades_as_the_window_slides() {
        let clock = ManualClock::new();
        let w = SlidingWindow::with_budget(64 * 1024, Duration::from_secs(10), clock.now()).unwrap();
        let k = KeyHash::of_bytes(b"203.0.113.9");
        for _ in 0..10 {
            w.observe(k, 1, clock.now());
        }
        assert_eq!(w.count(k, clock.now()).weighted, 10.0);
        clock.advance(Duration::from_millis(12_500)); // a quarter into the next window
        let c = w.count(k, clock.now());
        assert_eq!((c.current, c.previous), (0, 10));
        assert!((c.weighted - 7.5).abs() < 1e-9);
        clock.advance(Duration::from_secs(10)); // previous window now empty
        assert_eq!(w.count(k, clock.now()).weighted, 0.0);
    }

    #[test]
    fn long_silence_clears_both_slots() {
        let clock = ManualClock::new();
        let w = SlidingWindow::with_budget(16 * 1024, Duration::from_secs(1), clock.now()).unwrap();
        let k = KeyHash::of_u64(7);
        w.observe(k, 5, clock.now());
        clock.advance(Duration::from_secs(1));
        w.observe(k, 3, clock.now());
        clock.advance(Duration::from_secs(60));
        let c = w.observe(k, 1, clock.now());
        assert_eq!((c.current, c.previous), (1, 0));
        assert!(w.memory_bytes() <= 16 * 1024);
    }
}
