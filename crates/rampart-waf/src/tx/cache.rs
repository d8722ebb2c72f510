//! A per-phase cache of transformation results: many CRS rules run the same chain of
//! transformations (`t:urlDecodeUni,t:htmlEntityDecode,…`) over the same values, and
//! ModSecurity caches them too.
//!
//! Entries are keyed by the chain and the value's *identity* — the address and length of
//! bytes borrowed from the transaction's data — so a look-up hashes three integers instead of
//! the value. That is sound only while those bytes cannot change or move: the cache takes
//! values of request data only (never `TX`, persistent collections or `MATCHED_VAR*`, which
//! rules write), is cleared at the start of every phase, and is cleared whenever an action
//! writes request data (`setenv`, `ctl:requestBodyProcessor`, `initcol`). Results live in an
//! arena owned by the cache and are lent out, never copied; the cache is bounded in entries
//! and in the size of values it takes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::prefilter::{self, LiteralIndex};
use crate::transform::{byte_set, ByteSet};

/// Values longer than this are transformed without caching.
const MAX_VALUE: usize = 8 * 1024;
/// Most entries kept per phase.
const MAX_ENTRIES: usize = 4096;

/// A value's identity under one transformation chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    address: usize,
    len: usize,
    chain: u32,
}

/// What the chain made of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The chain left the value as it was.
    Unchanged,
    /// The transformed value, at this index of the arena.
    Changed(usize),
}

/// A multiply-rotate hash for keys made of integers (the keys are not attacker-chosen:
/// addresses and chain numbers).
#[derive(Debug, Default)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7cc1_b727_220a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

/// A value's entry in the cache (see [`TransformCache::get_or_insert`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryId(u32);

/// What the cache knows of one value under one chain.
#[derive(Debug, Clone, Copy)]
struct Entry {
    slot: Slot,
    /// The chain (0: none).
    chain: u32,
    /// Where in `held` the bytes the (transformed) value holds are, or [`NOT_SCANNED`].
    held: u32,
    /// Offset in `bits` of the value's literal groups (see [`crate::prefilter`]), or
    /// [`NOT_SCANNED`].
    bits: u32,
}

const NOT_SCANNED: u32 = u32::MAX;

/// The cache.
#[derive(Debug, Default)]
pub struct TransformCache {
    slots: HashMap<Key, u32, BuildHasherDefault<IntHasher>>,
    entries: Vec<Entry>,
    arena: Vec<Vec<u8>>,
    /// Group sets of scanned entries, [`LiteralIndex::words`] words each.
    bits: Vec<u64>,
    /// The bytes of values that chains asked about (see [`TransformCache::get_or_insert`]).
    held: Vec<ByteSet>,
    /// What whole variables hold under a chain (see [`super::literal_skip`]), with their keys,
    /// in the order computed; `summary_at[key]` is one more than a summary's index here (0:
    /// none), for the dense keys `literal_skip` makes of a variable and a chain.
    summaries: Vec<(usize, Summary)>,
    summary_at: Vec<u32>,
    /// The bytes of whole variables, untransformed (a dozen at most: searched in order).
    raw: Vec<(u32, ByteSet)>,
}

/// What the values of a whole variable hold under one chain, each half computed when first
/// asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Offset in `bits` of the union of their literal groups.
    pub bits: Option<usize>,
    /// A superset of the bytes they hold, from the untransformed values' bytes (see
    /// [`crate::transform::bytes_after`]).
    pub bound: Option<ByteSet>,
}

/// Room reserved when a transaction starts: a CRS request has a few hundred (value, chain)
/// pairs per phase; growing the table there would rehash it several times per request.
const INITIAL_ENTRIES: usize = 512;
/// Whole-variable group sets reserved likewise (about a hundred per phase).
const INITIAL_SUMMARIES: usize = 128;
/// Summary keys given room when a transaction starts (about a hundred chains for a few dozen
/// variables; the table grows as rules ask).
const INITIAL_SUMMARY_KEYS: usize = 4096;

impl TransformCache {
    /// An empty cache with room for a typical request.
    pub fn with_room() -> TransformCache {
        TransformCache {
            slots: HashMap::with_capacity_and_hasher(INITIAL_ENTRIES, BuildHasherDefault::default()),
            entries: Vec::with_capacity(INITIAL_ENTRIES),
            arena: Vec::new(),
            bits: Vec::with_capacity(INITIAL_ENTRIES),
            held: Vec::with_capacity(INITIAL_SUMMARIES),
            summaries: Vec::with_capacity(INITIAL_SUMMARIES),
            summary_at: Vec::with_capacity(INITIAL_SUMMARY_KEYS),
            raw: Vec::with_capacity(16),
        }
    }

    /// Forget everything (start of a phase, or request data written). Keeps the capacity.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.entries.clear();
        self.arena.clear();
        self.bits.clear();
        self.held.clear();
        // Only the keys in use are reset: the table is a few thousand entries long, and the
        // cache is cleared several times per request.
        for (key, _) in self.summaries.drain(..) {
            if let Some(at) = self.summary_at.get_mut(key) {
                *at = 0;
            }
        }
        self.raw.clear();
    }

    /// About how many bytes the cache's tables and vectors hold allocated, however full.
    pub fn room_bytes(&self) -> usize {
        use std::mem::size_of;
        self.slots.capacity() * (size_of::<Key>() + size_of::<u32>() + 1)
            + self.entries.capacity() * size_of::<Entry>()
            + self.arena.capacity() * size_of::<Vec<u8>>()
            + self.bits.capacity() * size_of::<u64>()
            + self.held.capacity() * size_of::<ByteSet>()
            + self.summaries.capacity() * size_of::<(usize, Summary)>()
            + self.summary_at.capacity() * size_of::<u32>()
            + self.raw.capacity() * size_of::<(u32, ByteSet)>()
    }

    /// Whether `value` may be cached at all.
    pub fn accepts(value: &[u8]) -> bool {
        value.len() <= MAX_VALUE
    }

    /// The entry of chain `chain` over `value` (identified by its address), computing it with
    /// `transform` (`None`: unchanged) on a miss, which is also given the bytes the value
    /// holds when known. `None` when the cache is full and the value was not in it: the caller
    /// transforms it itself.
    pub fn get_or_insert(
        &mut self,
        chain: u32,
        value: &[u8],
        transform: impl FnOnce(&[u8], Option<&ByteSet>) -> Option<Vec<u8>>,
    ) -> Option<EntryId> {
        let key = Key { address: value.as_ptr() as usize, len: value.len(), chain };
        if let Some(id) = self.slots.get(&key) {
            return Some(EntryId(*id));
        }
        if self.slots.len() >= MAX_ENTRIES || !Self::accepts(value) {
            return None;
        }
        // The value's bytes, kept with its chain-0 entry: every chain over it asks.
        let held = if chain == 0 { None } else { self.bytes_held(value) };
        let slot = match transform(value, held.as_ref()) {
            Some(v) => {
                self.arena.push(v);
                Slot::Changed(self.arena.len() - 1)
            }
            None => Slot::Unchanged,
        };
        let id = u32::try_from(self.entries.len()).ok()?;
        self.entries.push(Entry { slot, chain, held: NOT_SCANNED, bits: NOT_SCANNED });
        self.slots.insert(key, id);
        Some(EntryId(id))
    }

    /// The bytes `value` holds, computed once per value and phase; `None` when the cache is full.
    fn bytes_held(&mut self, value: &[u8]) -> Option<ByteSet> {
        let raw = self.get_or_insert(0, value, |_, _| None)?;
        self.value_bytes(raw, value)
    }

    /// The bytes the entry's (transformed) value holds, computed once per entry; `original` is
    /// the value the entry was made for. `None` for an unknown entry, or when the cache is full.
    pub fn value_bytes(&mut self, id: EntryId, original: &[u8]) -> Option<ByteSet> {
        let entry = self.entries.get(id.0 as usize).copied()?;
        if entry.held != NOT_SCANNED {
            return self.held.get(entry.held as usize).copied();
        }
        let set = match entry.slot {
            // A chain that left the value as it was: the bytes of the value, known to its
            // chain-0 entry (which every chain over it asks).
            Slot::Unchanged if entry.chain != 0 => self.bytes_held(original)?,
            Slot::Unchanged => byte_set(original),
            Slot::Changed(i) => byte_set(self.arena.get(i).map_or(original, Vec::as_slice)),
        };
        let at = u32::try_from(self.held.len()).ok()?;
        self.held.push(set);
        if let Some(e) = self.entries.get_mut(id.0 as usize) {
            e.held = at;
        }
        Some(set)
    }

    /// The bytes an entry stands for, given the original value.
    pub fn resolve<'a>(&'a self, id: EntryId, original: &'a [u8]) -> &'a [u8] {
        match self.entries.get(id.0 as usize).map(|e| e.slot) {
            Some(Slot::Changed(i)) => self.arena.get(i).map_or(original, Vec::as_slice),
            _ => original,
        }
    }

    /// Whether the entry's (transformed) value holds one of `group`'s literals; the value is
    /// scanned for all groups of `index` the first time any group asks.
    pub fn has_literal(&mut self, id: EntryId, group: u32, index: &LiteralIndex, original: &[u8]) -> bool {
        match self.scanned(id, index, original) {
            Some(at) => self.has(at, group, index),
            None => true,
        }
    }

    /// Whether the group set at `at` (of [`TransformCache::scanned`] or
    /// [`TransformCache::new_summary`]) has `group`.
    pub fn has(&self, at: usize, group: u32, index: &LiteralIndex) -> bool {
        self.bits.get(at..at + index.words()).is_some_and(|bits| prefilter::has(bits, group))
    }

    /// What a whole variable holds under a chain (`key`: the two made one small number by
    /// `literal_skip`), as far as computed this phase.
    pub fn summary(&self, key: usize) -> Option<Summary> {
        let at = self.summary_at.get(key)?.checked_sub(1)?;
        self.summaries.get(at as usize).map(|(_, summary)| *summary)
    }

    /// Start an empty group set for a whole variable; its offset. The caller fills it with
    /// [`TransformCache::add_to_summary`] and [`TransformCache::scan_into`], then records it
    /// through [`TransformCache::set_summary`].
    pub fn new_summary(&mut self, index: &LiteralIndex) -> usize {
        let at = self.bits.len();
        self.bits.resize(at + index.words(), 0);
        at
    }

    /// The bytes of a whole variable, untransformed, if computed this phase.
    pub fn raw_bytes(&self, variable: u32) -> Option<ByteSet> {
        self.raw.iter().find(|(v, _)| *v == variable).map(|(_, held)| *held)
    }

    /// Record the bytes of a whole variable, untransformed.
    pub fn set_raw_bytes(&mut self, variable: u32, held: ByteSet) {
        self.raw.push((variable, held));
    }

    /// Record what a whole variable holds under a chain.
    pub fn set_summary(&mut self, key: usize, summary: Summary) {
        if key >= self.summary_at.len() {
            self.summary_at.resize(key + 1, 0);
        }
        let known = self.summary_at.get(key).and_then(|at| at.checked_sub(1));
        match known.and_then(|at| self.summaries.get_mut(at as usize)) {
            Some((_, slot)) => *slot = summary,
            None => {
                self.summaries.push((key, summary));
                if let (Some(at), Ok(index)) = (self.summary_at.get_mut(key), u32::try_from(self.summaries.len())) {
                    *at = index;
                }
            }
        }
    }

    /// Add the group set at `from` to the one at `to`.
    pub fn add_to_summary(&mut self, from: usize, to: usize, index: &LiteralIndex) {
        for i in 0..index.words() {
            self.bits[to + i] |= self.bits[from + i];
        }
    }

    /// Add the groups `input` has to the group set at `to`.
    pub fn scan_into(&mut self, input: &[u8], to: usize, index: &LiteralIndex) {
        index.scan(input, &mut self.bits[to..to + index.words()]);
    }

    /// The offset of the entry's group set, scanning its value the first time; `None` for an
    /// unknown entry.
    pub fn scanned(&mut self, id: EntryId, index: &LiteralIndex, original: &[u8]) -> Option<usize> {
        let entry = self.entries.get(id.0 as usize).copied()?;
        if entry.bits != NOT_SCANNED {
            return Some(entry.bits as usize);
        }
        // A chain that left the value as it was (the usual case for clean input) has the
        // groups of the value itself: one scan serves every such chain.
        let shared = match (entry.slot, entry.chain) {
            (Slot::Unchanged, chain) if chain != 0 => {
                self.get_or_insert(0, original, |_, _| None).and_then(|raw| self.scanned(raw, index, original))
            }
            _ => None,
        };
        let at = match shared {
            Some(at) => at,
            None => {
                let at = self.bits.len();
                self.bits.resize(at + index.words(), 0);
                let input = match entry.slot {
                    Slot::Changed(i) => self.arena.get(i).map_or(original, Vec::as_slice),
                    Slot::Unchanged => original,
                };
                index.scan(input, &mut self.bits[at..]);
                at
            }
        };
        if let Some(e) = self.entries.get_mut(id.0 as usize) {
            e.bits = u32::try_from(at).unwrap_or(NOT_SCANNED);
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_by_chain_and_identity() {
        let mut c = TransformCache::default();
        let value = b"Abc".to_vec();
        let lower = |v: &[u8], _: Option<&ByteSet>| Some(v.to_ascii_lowercase());
        let s1 = c.get_or_insert(1, &value, lower);
        assert_eq!(s1.map(|s| c.resolve(s, &value)), Some(&b"abc"[..]));
        let s2 = c.get_or_insert(2, &value, |_, _| None);
        assert_eq!(s2.map(|s| c.resolve(s, &value).as_ptr()), Some(value.as_ptr()));
        // A hit does not run the transformation again.
        assert_eq!(c.get_or_insert(1, &value, |_, _| panic!("cached")), s1);
        // Equal bytes elsewhere are another value.
        let other = b"Abc".to_vec();
        assert_ne!(c.get_or_insert(1, &other, |_, _| None), s1);
        c.clear();
        assert_eq!(c.get_or_insert(1, &value, |_, _| None).map(|s| c.resolve(s, &value).as_ptr()), Some(value.as_ptr()));
    }

    #[test]
    fn summaries_by_variable_and_chain() {
        let mut c = TransformCache::default();
        assert!(c.summary(37).is_none());
        c.set_summary(37, Summary { bits: Some(1), bound: None });
        c.set_summary(47, Summary { bits: Some(2), bound: None });
        c.set_summary(3, Summary { bits: Some(3), bound: None });
        c.set_summary(37, Summary { bits: Some(4), bound: Some([1, 0, 0, 0]) });
        assert_eq!(c.summary(37).and_then(|s| s.bits), Some(4));
        assert_eq!(c.summary(47).and_then(|s| s.bits), Some(2));
        assert_eq!(c.summary(3).and_then(|s| s.bits), Some(3));
        assert!(c.summary(4).is_none() && c.summary(39).is_none() && c.summary(10_000).is_none());
        c.clear();
        assert!(c.summary(37).is_none() && c.summary(3).is_none());
    }

    #[test]
    fn literal_groups_of_the_transformed_value() {
        let index = LiteralIndex::new(&[vec![b"abc".to_vec()], vec![b"xyz".to_vec()]]);
        let mut c = TransformCache::default();
        let value = b"ABC".to_vec();
        let Some(id) = c.get_or_insert(1, &value, |v, _| Some(v.to_ascii_lowercase())) else { panic!("not cached") };
        assert!(c.has_literal(id, 0, &index, &value));
        assert!(!c.has_literal(id, 1, &index, &value));
    }
}
