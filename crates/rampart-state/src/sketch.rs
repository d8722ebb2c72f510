//! [`CountMinSketch`]: approximate per-key counts in fixed memory, lock-free.
//!
//! After Pingora's `pingora-limits` estimator: `depth` rows of atomic counters; an update
//! adds to one counter per row, a query takes the smallest. Collisions only ever make a
//! count larger, never smaller, so a client is never under-counted — and with the keyed hash
//! ([`crate::KeyHash`]) an attacker cannot choose whom they collide with.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::budget::BudgetError;
use crate::hash::KeyHash;
use crate::shape::{SketchShape, DEFAULT_DEPTH};

/// Approximate counts of many keys in memory fixed at construction.
pub struct CountMinSketch {
    shape: SketchShape,
    counters: Box<[AtomicU32]>,
}

impl CountMinSketch {
    /// The widest sketch of [`DEFAULT_DEPTH`] rows whose [`CountMinSketch::memory_bytes`]
    /// fits in `bytes`.
    pub fn with_budget(bytes: usize) -> Result<CountMinSketch, BudgetError> {
        let cells = bytes.saturating_sub(std::mem::size_of::<Self>());
        let shape = SketchShape::from_budget("count-min sketch", cells, 4, DEFAULT_DEPTH)?;
        Ok(CountMinSketch::with_shape(shape))
    }

    pub fn with_shape(shape: SketchShape) -> CountMinSketch {
        let counters = (0..shape.cells()).map(|_| AtomicU32::new(0)).collect();
        CountMinSketch { shape, counters }
    }

    pub fn shape(&self) -> SketchShape {
        self.shape
    }

    /// Add `n` to `key` and return its new estimate. Counters saturate rather than wrap, so
    /// a huge flood reads as huge, not as zero.
    #[inline]
    pub fn increment(&self, key: KeyHash, n: u32) -> u32 {
        let mut estimate = u32::MAX;
        for idx in self.shape.slots(key) {
            let cell = &self.counters[idx];
            let old = cell.fetch_add(n, Ordering::Relaxed);
            let new = old.checked_add(n).unwrap_or_else(|| {
                // Overflowed: pin at the maximum. A racing add may slip in between; it can
                // only make the count larger, which is the safe direction.
                cell.store(u32::MAX, Ordering::Relaxed);
                u32::MAX
            });
            estimate = estimate.min(new);
        }
        estimate
    }

    /// The estimated count of `key` (never below the true count).
    #[inline]
    pub fn estimate(&self, key: KeyHash) -> u32 {
        self.shape
            .slots(key)
            .map(|idx| self.counters[idx].load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    }

    /// Forget every count. O(cells); called once per window by [`crate::SlidingWindow`].
    pub fn clear(&self) {
        for cell in self.counters.iter() {
            cell.store(0, Ordering::Relaxed);
        }
    }

    /// Bytes held: the struct plus its counters, exactly; fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.counters.len() * std::mem::size_of::<AtomicU32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_never_under_and_mostly_exact() {
        // 4 rows of 8192 counters (the struct's own bytes come off the budget first).
        let s = CountMinSketch::with_budget(128 * 1024 + std::mem::size_of::<CountMinSketch>()).unwrap();
        assert_eq!(s.shape().width, 8192);
        for k in 0..1000u64 {
            s.increment(KeyHash::of_u64(k), (k % 7) as u32 + 1);
        }
        let exact = (0..1000u64).filter(|&k| s.estimate(KeyHash::of_u64(k)) == (k % 7) as u32 + 1).count();
        for k in 0..1000u64 {
            assert!(s.estimate(KeyHash::of_u64(k)) > (k % 7) as u32);
        }
        assert!(exact > 990, "only {exact} exact");
    }

    #[test]
    fn saturates_and_clears() {
        let s = CountMinSketch::with_budget(4096).unwrap();
        let k = KeyHash::of_bytes(b"flood");
        s.increment(k, u32::MAX - 1);
        assert_eq!(s.increment(k, 5), u32::MAX);
        s.clear();
        assert_eq!(s.estimate(k), 0);
    }

    #[test]
    fn memory_is_fixed_and_within_budget() {
        let s = CountMinSketch::with_budget(1 << 20).unwrap();
        let before = s.memory_bytes();
        for k in 0..100_000u64 {
            s.increment(KeyHash::of_u64(k), 1);
        }
        assert_eq!(s.memory_bytes(), before);
        assert!(before <= 1 << 20);
        assert!(before > (1 << 20) - 64);
    }
}
