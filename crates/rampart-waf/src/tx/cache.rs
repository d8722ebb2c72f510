//! A per-phase cache of transformation results: many CRS rules run the same chain of
//! transformations (`t:urlDecodeUni,t:htmlEntityDecode,…`) over the same values, and
//! ModSecurity caches them too. Entries are keyed by the chain and the value's *bytes*
//! (not its address), so a stale entry cannot be returned; the cache is bounded in entries
//! and in the size of values it takes, and cleared at the start of every phase.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Values longer than this are transformed without caching.
const MAX_VALUE: usize = 8 * 1024;
/// Most entries kept per phase.
const MAX_ENTRIES: usize = 4096;

/// Result of a cached chain: `None` when the chain left the value unchanged.
pub type Cached = Option<Arc<[u8]>>;

/// FNV-1a: fast on the short values rules see; the map compares full keys anyway.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// The cache.
#[derive(Debug, Default)]
pub struct TransformCache {
    chains: FnvMap<u32, FnvMap<Vec<u8>, Cached>>,
    entries: usize,
}

impl std::fmt::Debug for Fnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fnv")
    }
}

impl TransformCache {
    /// Forget everything (start of a phase).
    pub fn clear(&mut self) {
        self.chains.clear();
        self.entries = 0;
    }

    /// Whether `value` may be cached at all.
    pub fn accepts(value: &[u8]) -> bool {
        value.len() <= MAX_VALUE
    }

    /// The cached result of chain `chain` over `value`.
    pub fn get(&self, chain: u32, value: &[u8]) -> Option<&Cached> {
        self.chains.get(&chain)?.get(value)
    }

    /// Remember a result (ignored once the cache is full).
    pub fn put(&mut self, chain: u32, value: &[u8], result: Cached) {
        if self.entries >= MAX_ENTRIES || !Self::accepts(value) {
            return;
        }
        self.entries += 1;
        self.chains.entry(chain).or_default().insert(value.to_vec(), result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_by_chain_and_bytes() {
        let mut c = TransformCache::default();
        c.put(1, b"Abc", Some(Arc::from(&b"abc"[..])));
        c.put(2, b"Abc", None);
        assert_eq!(c.get(1, b"Abc").cloned().flatten().as_deref(), Some(&b"abc"[..]));
        assert_eq!(c.get(2, b"Abc"), Some(&None));
        assert!(c.get(1, b"abc").is_none());
        c.clear();
        assert!(c.get(1, b"Abc").is_none());
    }
}
