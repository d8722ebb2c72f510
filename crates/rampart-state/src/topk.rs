//! [`TopK`]: the heaviest keys of a stream in fixed memory (Metwally et al.'s space-saving
//! algorithm), for reports ("who is hitting us") and for banning the worst offenders.
//!
//! `capacity` slots. A key already held adds to its count; a new key takes a free slot, or
//! else evicts the smallest count and inherits it (recorded as the new key's possible
//! `error`). Any key whose true count exceeds `total / capacity` is guaranteed to be held.
//!
//! Keys are matched by their [`KeyHash`] (64 bits under the process seed: collisions are not
//! a practical concern), so the printable key is only built when a slot is (re)assigned.
//! Lookups scan the slots linearly: capacity is small (tens to a few hundred) and callers
//! offer only noteworthy events (limit violations), not every request.

use parking_lot::Mutex;

use crate::hash::KeyHash;

/// A key [`TopK`] holds, with its estimated count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeavyHitter<K> {
    pub key: K,
    /// Estimated count; the true count lies in `count - error ..= count`.
    pub count: u64,
    pub error: u64,
}

struct Slots<K> {
    hashes: Vec<u64>,
    counts: Vec<u64>,
    errors: Vec<u64>,
    keys: Vec<Option<K>>,
}

/// The `capacity` heaviest keys seen, approximately.
pub struct TopK<K> {
    capacity: usize,
    slots: Mutex<Slots<K>>,
}

impl<K: Clone> TopK<K> {
    /// Room for `capacity` keys (at least one), allocated now and never grown.
    pub fn new(capacity: usize) -> TopK<K> {
        let capacity = capacity.max(1);
        let slots = Slots {
            hashes: Vec::with_capacity(capacity),
            counts: Vec::with_capacity(capacity),
            errors: Vec::with_capacity(capacity),
            keys: Vec::with_capacity(capacity),
        };
        TopK { capacity, slots: Mutex::new(slots) }
    }

    /// Bytes [`TopK::new`] allocates for `capacity` keys, struct included.
    pub fn bytes_for(capacity: usize) -> usize {
        std::mem::size_of::<Self>() + capacity.max(1) * (3 * 8 + std::mem::size_of::<Option<K>>())
    }

    /// Count `weight` more for the key hashing to `hash`; `key` builds its printable form
    /// only if the key takes a slot.
    pub fn offer(&self, hash: KeyHash, weight: u64, key: impl FnOnce() -> K) {
        let h = hash.value();
        let mut s = self.slots.lock();
        if let Some(i) = s.hashes.iter().position(|&x| x == h) {
            s.counts[i] = s.counts[i].saturating_add(weight);
            return;
        }
        if s.hashes.len() < self.capacity {
            s.hashes.push(h);
            s.counts.push(weight);
            s.errors.push(0);
            s.keys.push(Some(key()));
            return;
        }
        // Full: the smallest count gives up its slot. `capacity >= 1`, so there is one.
        let Some((i, &floor)) = s.counts.iter().enumerate().min_by_key(|(_, c)| **c) else {
            return;
        };
        s.hashes[i] = h;
        s.counts[i] = floor.saturating_add(weight);
        s.errors[i] = floor;
        s.keys[i] = Some(key());
    }

    /// The `n` heaviest keys, heaviest first.
    pub fn top(&self, n: usize) -> Vec<HeavyHitter<K>> {
        let s = self.slots.lock();
        let mut out: Vec<HeavyHitter<K>> = (0..s.hashes.len())
            .filter_map(|i| {
                let key = s.keys[i].clone()?;
                Some(HeavyHitter { key, count: s.counts[i], error: s.errors[i] })
            })
            .collect();
        out.sort_by_key(|h| std::cmp::Reverse(h.count));
        out.truncate(n);
        out
    }

    /// Forget everything (after a report, or when an incident closes).
    pub fn clear(&self) {
        let mut s = self.slots.lock();
        s.hashes.clear();
        s.counts.clear();
        s.errors.clear();
        s.keys.clear();
    }

    /// Bytes held, exactly: the slots were allocated at construction and never grow.
    pub fn memory_bytes(&self) -> usize {
        Self::bytes_for(self.capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_keys_survive_a_stream_of_one_offs() {
        let top: TopK<u64> = TopK::new(64);
        for i in 0..100_000u64 {
            // Three heavy keys (1/30 of the stream each) among 90,000 one-off keys: above
            // the guarantee's threshold of total / capacity = 1/64.
            let k = if i % 10 == 0 { i % 3 } else { 1000 + i };
            top.offer(KeyHash::of_u64(k), 1, || k);
        }
        let heavy: Vec<u64> = top.top(3).into_iter().map(|h| h.key).collect();
        let mut sorted = heavy.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2]);
        let first = &top.top(1)[0];
        assert!(first.count - first.error <= 3334 && first.count >= 3333);
    }

    #[test]
    fn memory_does_not_grow() {
        let top: TopK<u64> = TopK::new(8);
        let before = top.memory_bytes();
        for i in 0..10_000u64 {
            top.offer(KeyHash::of_u64(i), 1, || i);
        }
        assert_eq!(top.memory_bytes(), before);
        assert_eq!(top.top(100).len(), 8);
    }
}
