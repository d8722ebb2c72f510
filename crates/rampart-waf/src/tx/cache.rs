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

/// A hash of `bytes` with ASCII letters folded to lower case (see `TransformCache::scans`).
fn folded_hash(bytes: &[u8]) -> u64 {
    let mut hasher = IntHasher::default();
    hasher.write_usize(bytes.len());
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        for (w, b) in word.iter_mut().zip(chunk) {
            *w = b.to_ascii_lowercase();
        }
        hasher.write_u64(u64::from_le_bytes(word));
    }
    hasher.finish()
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
    /// The value's chain-0 entry (its own id for chain 0), which holds its bytes and groups
    /// for every chain that leaves it unchanged, or [`NOT_SCANNED`] when the cache had no
    /// room for it: found without hashing the key again.
    raw: u32,
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
    /// What whole variables hold under a chain (see [`super::literal_skip`]), by the engine's
    /// summary numbers ([`super::literal_skip::SummaryRef`]): a table indexed, not searched,
    /// about a thousand times per request. Its halves count only when stamped with `epoch`.
    summaries: Vec<Summary>,
    /// The bytes of whole variables, untransformed, by their place among summarised variables;
    /// bit `place` of `raw_known` says which are computed.
    raw: [ByteSet; RAW_PLACES],
    raw_known: u32,
    /// Bumped by [`TransformCache::clear`]: forgetting the summaries is one addition instead of
    /// a pass over the table.
    epoch: u32,
    /// The transformed values scanned this phase, by a hash of their bytes with ASCII letters
    /// folded: with their arena index and group set. Many chains make the same bytes of a value
    /// (`t:urlDecodeUni` alone, or followed by `t:htmlEntityDecode,t:removeNulls`, which change
    /// nothing more in clean input), and bytes equal but for ASCII case have the same groups
    /// (the index searches case-insensitively): one scan serves them all.
    scans: Vec<(u64, usize, usize)>,
}

/// Room for the untransformed bytes of every summarised variable (a `u32` mask tells which
/// are known).
pub const RAW_PLACES: usize = 32;

/// What the values of a whole variable hold under one chain, each half computed when first
/// asked, and valid while its stamp is the cache's epoch.
#[derive(Debug, Clone, Copy)]
struct Summary {
    /// Offset in `bits` of the union of their literal groups.
    bits: u32,
    bits_epoch: u32,
    /// A superset of the bytes they hold, from the untransformed values' bytes (see
    /// [`crate::transform::bytes_after`]).
    bound: ByteSet,
    bound_epoch: u32,
}

/// The stamp of a summary half never computed (the epoch skips it).
const STALE: u32 = u32::MAX;

impl Default for Summary {
    fn default() -> Summary {
        Summary { bits: 0, bits_epoch: STALE, bound: [0; 4], bound_epoch: STALE }
    }
}

/// Room reserved when a transaction starts: a CRS request has a few hundred (value, chain)
/// pairs per phase; growing the table there would rehash it several times per request.
const INITIAL_ENTRIES: usize = 512;
/// Bytes of values reserved likewise (about a hundred per phase).
const INITIAL_HELD: usize = 128;

impl TransformCache {
    /// An empty cache with room for a typical request.
    pub fn with_room() -> TransformCache {
        TransformCache {
            slots: HashMap::with_capacity_and_hasher(INITIAL_ENTRIES, BuildHasherDefault::default()),
            entries: Vec::with_capacity(INITIAL_ENTRIES),
            arena: Vec::new(),
            bits: Vec::with_capacity(INITIAL_ENTRIES),
            held: Vec::with_capacity(INITIAL_HELD),
            summaries: Vec::new(),
            raw: [[0; 4]; RAW_PLACES],
            raw_known: 0,
            epoch: 0,
            scans: Vec::with_capacity(INITIAL_HELD),
        }
    }

    /// Forget everything (start of a phase, or request data written). Keeps the capacity.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.entries.clear();
        self.arena.clear();
        self.bits.clear();
        self.held.clear();
        self.scans.clear();
        self.raw_known = 0;
        self.epoch += 1;
        if self.epoch == STALE {
            // Once in four billion clears: stamps of the old epochs could pass for new ones.
            self.summaries.fill(Summary::default());
            self.epoch = 0;
        }
    }

    /// Give the summary table room for `count` summaries (the engine's number of them).
    pub fn fit_summaries(&mut self, count: usize) {
        if self.summaries.len() < count {
            self.summaries.resize(count, Summary::default());
        }
    }

    /// About how many bytes the cache's tables and vectors hold allocated, however full.
    pub fn room_bytes(&self) -> usize {
        use std::mem::size_of;
        self.slots.capacity() * (size_of::<Key>() + size_of::<u32>() + 1)
            + self.entries.capacity() * size_of::<Entry>()
            + self.arena.capacity() * size_of::<Vec<u8>>()
            + self.bits.capacity() * size_of::<u64>()
            + self.held.capacity() * size_of::<ByteSet>()
            + self.summaries.capacity() * size_of::<Summary>()
            + self.scans.capacity() * size_of::<(u64, usize, usize)>()
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
        let raw = if chain == 0 { None } else { self.raw_entry(value) };
        let held = raw.and_then(|raw| self.value_bytes(raw, value));
        let slot = match transform(value, held.as_ref()) {
            Some(v) => {
                self.arena.push(v);
                Slot::Changed(self.arena.len() - 1)
            }
            None => Slot::Unchanged,
        };
        let id = u32::try_from(self.entries.len()).ok()?;
        let raw = if chain == 0 { id } else { raw.map_or(NOT_SCANNED, |raw| raw.0) };
        self.entries.push(Entry { slot, chain, held: NOT_SCANNED, bits: NOT_SCANNED, raw });
        self.slots.insert(key, id);
        Some(EntryId(id))
    }

    /// The chain-0 entry of `value`; `None` when the cache is full.
    fn raw_entry(&mut self, value: &[u8]) -> Option<EntryId> {
        self.get_or_insert(0, value, |_, _| None)
    }

    /// The bytes `value` holds, computed once per value and phase; `None` when the cache is full.
    fn bytes_held(&mut self, value: &[u8]) -> Option<ByteSet> {
        let raw = self.raw_entry(value)?;
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
            Slot::Unchanged if entry.chain != 0 => match entry.raw {
                NOT_SCANNED => self.bytes_held(original)?,
                raw => self.value_bytes(EntryId(raw), original)?,
            },
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

    /// The union of the literal groups of a whole variable's values under a chain (summary
    /// `at`), if computed this phase: its offset for [`TransformCache::has`].
    #[inline]
    pub fn summary_bits(&self, at: u32) -> Option<usize> {
        let summary = self.summaries.get(at as usize)?;
        (summary.bits_epoch == self.epoch).then_some(summary.bits as usize)
    }

    /// The bound of the bytes of a whole variable's values under a chain (summary `at`), if
    /// computed this phase.
    #[inline]
    pub fn summary_bound(&self, at: u32) -> Option<ByteSet> {
        let summary = self.summaries.get(at as usize)?;
        (summary.bound_epoch == self.epoch).then_some(summary.bound)
    }

    /// Record the group set (at offset `bits`) of summary `at`.
    pub fn set_summary_bits(&mut self, at: u32, bits: usize) {
        let epoch = self.epoch;
        if let (Some(summary), Ok(bits)) = (self.summaries.get_mut(at as usize), u32::try_from(bits)) {
            summary.bits = bits;
            summary.bits_epoch = epoch;
        }
    }

    /// Record the bound of summary `at`.
    pub fn set_summary_bound(&mut self, at: u32, bound: ByteSet) {
        let epoch = self.epoch;
        if let Some(summary) = self.summaries.get_mut(at as usize) {
            summary.bound = bound;
            summary.bound_epoch = epoch;
        }
    }

    /// Start an empty group set for a whole variable; its offset. The caller fills it with
    /// [`TransformCache::add_to_summary`] and [`TransformCache::scan_into`], then records it
    /// through [`TransformCache::set_summary_bits`].
    pub fn new_summary(&mut self, index: &LiteralIndex) -> usize {
        let at = self.bits.len();
        self.bits.resize(at + index.words(), 0);
        at
    }

    /// The bytes of the summarised variable at `place`, untransformed, if computed this phase.
    #[inline]
    pub fn raw_bytes(&self, place: usize) -> Option<ByteSet> {
        (self.raw_known & (1 << place) != 0).then(|| self.raw[place])
    }

    /// Record the bytes of the summarised variable at `place` (below [`RAW_PLACES`]).
    pub fn set_raw_bytes(&mut self, place: usize, held: ByteSet) {
        if place < RAW_PLACES {
            self.raw[place] = held;
            self.raw_known |= 1 << place;
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
                let raw = match entry.raw {
                    NOT_SCANNED => self.raw_entry(original),
                    raw => Some(EntryId(raw)),
                };
                raw.and_then(|raw| self.scanned(raw, index, original))
            }
            _ => None,
        };
        let at = match (shared, entry.slot) {
            (Some(at), _) => at,
            (None, Slot::Changed(i)) => {
                let input = self.arena.get(i).map_or(original, Vec::as_slice);
                let hash = folded_hash(input);
                let arena = &self.arena;
                let known = self.scans.iter().find(|(h, j, _)| *h == hash && arena.get(*j).is_some_and(|v| v.eq_ignore_ascii_case(input)));
                match known {
                    Some(&(_, _, at)) => at,
                    None => {
                        let at = self.bits.len();
                        self.bits.resize(at + index.words(), 0);
                        index.scan(input, &mut self.bits[at..]);
                        self.scans.push((hash, i, at));
                        at
                    }
                }
            }
            (None, Slot::Unchanged) => {
                let at = self.bits.len();
                self.bits.resize(at + index.words(), 0);
                index.scan(original, &mut self.bits[at..]);
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
    fn summaries_last_a_phase() {
        let mut c = TransformCache::default();
        assert!(c.summary_bits(3).is_none());
        c.fit_summaries(50);
        c.set_summary_bits(37, 1);
        c.set_summary_bound(47, [1, 0, 0, 0]);
        c.set_raw_bytes(5, [2, 0, 0, 0]);
        assert_eq!(c.summary_bits(37), Some(1));
        assert!(c.summary_bound(37).is_none() && c.summary_bits(47).is_none());
        assert_eq!(c.summary_bound(47), Some([1, 0, 0, 0]));
        assert_eq!(c.raw_bytes(5), Some([2, 0, 0, 0]));
        assert!(c.raw_bytes(4).is_none() && c.summary_bits(10_000).is_none());
        c.clear();
        assert!(c.summary_bits(37).is_none() && c.summary_bound(47).is_none() && c.raw_bytes(5).is_none());
    }

    #[test]
    fn equal_transformed_bytes_are_scanned_once() {
        let index = LiteralIndex::new(&[vec![b"abc".to_vec()], vec![b"xyz".to_vec()]]);
        let mut c = TransformCache::default();
        let value = b"a%62c".to_vec();
        let decode = |_: &[u8], _: Option<&ByteSet>| Some(b"abc".to_vec());
        let upper = |_: &[u8], _: Option<&ByteSet>| Some(b"ABC".to_vec());
        let other = |_: &[u8], _: Option<&ByteSet>| Some(b"xyz".to_vec());
        let (Some(a), Some(b), Some(x)) = (c.get_or_insert(1, &value, decode), c.get_or_insert(2, &value, upper), c.get_or_insert(3, &value, other)) else {
            panic!("not cached")
        };
        let at = c.scanned(a, &index, &value);
        assert!(at.is_some() && c.scanned(b, &index, &value) == at);
        assert!(c.has_literal(b, 0, &index, &value) && !c.has_literal(b, 1, &index, &value));
        assert!(c.scanned(x, &index, &value) != at && c.has_literal(x, 1, &index, &value) && !c.has_literal(x, 0, &index, &value));
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
