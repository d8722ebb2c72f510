//! [`TxVars`]: the `TX` collection, and [`VarMap`], what fetching and `setvar` need of it and
//! of the persistent collections alike.
//!
//! The CRS reads `TX` variables by name a few hundred times per request (paranoia levels,
//! anomaly scores, the allowed methods and content types) and walks it only through a handful
//! of regex selectors (`TX:/^header_name_920450_/`). The names the rules write literally are
//! numbered when the engine is built ([`super::tx_names`]): those variables sit in a table by
//! slot, reached by index. Names made at run time (`setvar:tx.header_name_920450_%{tx.0}`)
//! are kept in a hash map. A walk sorts the few keys it selects, so they come in the order a
//! sorted map (and ModSecurity) gives. The hash is aHash with per-process random keys
//! (`ahash::RandomState`): keys can be built from request data and must not be choosable to
//! collide, which a keyed hash ensures as SipHash did, at a fraction of its cost for the short
//! keys the CRS uses.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::tx_names::{TxNames, NO_NAMES};
use crate::vars::Selector;

/// Room for the variables with made-up names a request sets (one per request header and
/// argument, about), so the table is not rebuilt as it fills.
const INITIAL_VARIABLES: usize = 64;
/// A finished transaction's variables are kept, unset, for the next one to set again without
/// allocating a name and a value (the CRS sets the same two hundred in every request), when
/// there are at most this many made-up names...
const KEPT_VARIABLES: usize = 512;
/// ... and only those whose name and value buffer are at most this long, so that the memory a
/// spare table holds stays bounded whatever names requests made up. Numbered variables keep a
/// value buffer up to this long too.
const KEPT_NAME: usize = 64;
pub(crate) const KEPT_VALUE: usize = 256;

/// `TX`: variables by slot (names numbered by the engine) and by lower-cased name (the rest).
#[derive(Debug)]
pub struct TxVars {
    names: Arc<TxNames>,
    /// By slot: `names.len()` of them (or none, in a table that was never given room).
    numbered: Vec<Slot>,
    values: HashMap<String, Slot, ahash::RandomState>,
    /// How many slots are set.
    set: usize,
}

/// A variable's place in the table: set, or kept from an earlier transaction for its buffers.
#[derive(Debug, Default)]
struct Slot {
    value: Vec<u8>,
    set: bool,
}

impl Default for TxVars {
    /// Empty, without room (a transaction gets a table with room from its engine's spares).
    fn default() -> TxVars {
        TxVars { names: NO_NAMES.clone(), numbered: Vec::new(), values: HashMap::with_hasher(ahash::RandomState::new()), set: 0 }
    }
}

impl TxVars {
    /// Empty, with room for a CRS request's variables, the numbered ones those of `names`.
    pub(crate) fn with_room(names: Arc<TxNames>) -> TxVars {
        let numbered = (0..names.len()).map(|_| Slot::default()).collect();
        TxVars { names, numbered, values: HashMap::with_capacity_and_hasher(INITIAL_VARIABLES, ahash::RandomState::new()), set: 0 }
    }

    /// The slot of `key`, when it is numbered and the table has room for it.
    fn slot_of(&self, key: &str) -> Option<usize> {
        self.names.slot(key).map(|s| s as usize).filter(|&s| s < self.numbered.len())
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Vec<u8>> {
        self.entry_of(key).map(|(_, v)| v)
    }

    /// The value of the variable in `slot` ([`super::tx_names`]), if set.
    pub(crate) fn slot_value(&self, slot: u32) -> Option<&Vec<u8>> {
        match self.numbered.get(slot as usize) {
            Some(s) => s.set.then_some(&s.value),
            None => self.slot_entry(slot).map(|(_, v)| v),
        }
    }

    /// The name and value of the variable in `slot`, if set. A table without room for the
    /// slot keeps the variable by name (see [`TxVars::slot_set`]).
    pub(crate) fn slot_entry(&self, slot: u32) -> Option<(&String, &Vec<u8>)> {
        let name = self.names.name(slot as usize)?;
        match self.numbered.get(slot as usize) {
            Some(s) => s.set.then_some((name, &s.value)),
            None => self.values.get_key_value(name).filter(|(_, s)| s.set).map(|(k, s)| (k, &s.value)),
        }
    }

    /// Whether the variable in `slot` is set.
    pub(crate) fn slot_is_set(&self, slot: u32) -> bool {
        self.numbered.get(slot as usize).is_some_and(|s| s.set)
    }

    /// The value buffer of the variable in `slot`, emptied, to write its new value into; the
    /// variable is set from now on. `None` for a slot the table has no room for (see
    /// [`TxVars::with_room`]): the caller sets it by name.
    pub(crate) fn slot_buffer(&mut self, slot: u32) -> Option<&mut Vec<u8>> {
        let s = self.numbered.get_mut(slot as usize)?;
        if !s.set {
            s.set = true;
            self.set += 1;
        }
        s.value.clear();
        Some(&mut s.value)
    }

    /// Unset the variable in `slot`.
    pub(crate) fn slot_delete(&mut self, slot: u32) {
        if let Some(s) = self.numbered.get_mut(slot as usize) {
            if s.set {
                s.set = false;
                s.value.clear();
                self.set -= 1;
            }
        }
    }

    /// Set the variable in `slot` (by name if the table has no room for it).
    pub(crate) fn slot_set(&mut self, slot: u32, value: &[u8]) {
        match self.slot_buffer(slot) {
            Some(buffer) => buffer.extend_from_slice(value),
            None => {
                if let Some(name) = self.names.name(slot as usize).cloned() {
                    self.set(name.into(), value.into());
                }
            }
        }
    }

    /// About how many bytes the table holds allocated, however full (kept names and values
    /// are bounded by [`KEPT_NAME`] and [`KEPT_VALUE`]).
    pub(crate) fn room_bytes(&self) -> usize {
        self.values.capacity() * (std::mem::size_of::<(String, Slot)>() + 1) + self.numbered.len() * std::mem::size_of::<Slot>()
    }

    /// Forget every variable, keeping the table's room and, within bounds, its names and value
    /// buffers for the next transaction (see `tx::spare`).
    pub(crate) fn clear(&mut self) {
        for slot in &mut self.numbered {
            slot.set = false;
            if slot.value.capacity() > KEPT_VALUE {
                slot.value = Vec::new();
            } else {
                slot.value.clear();
            }
        }
        if self.values.len() > KEPT_VARIABLES {
            self.values.clear();
        } else {
            self.values.retain(|name, slot| {
                slot.set = false;
                slot.value.clear();
                name.len() <= KEPT_NAME && slot.value.capacity() <= KEPT_VALUE
            });
        }
        self.set = 0;
    }
}

/// A collection of named values as rules read and write it: `TX` ([`TxVars`]) or a
/// persistent collection (a `BTreeMap`, as the store keeps it). Keys are lower-case.
pub trait VarMap {
    /// The stored key and value for `key`.
    fn entry_of(&self, key: &str) -> Option<(&String, &Vec<u8>)>;
    /// Call `f` with every entry whose key starts with `prefix` (`""`: every entry), in no
    /// particular order. The prefix is tested here, before the call: a walk of `TX` (a few
    /// hundred variables) usually selects a handful.
    fn each_with_prefix<'m>(&'m self, prefix: &str, f: &mut dyn FnMut(&'m String, &'m Vec<u8>));
    /// Call `f` with every entry `selector` selects (`None`: every entry), in no particular
    /// order; `prefix` is the selector's literal prefix (`""` if none).
    fn each_selected<'m>(&'m self, selector: Option<&Selector>, prefix: &str, f: &mut dyn FnMut(&'m String, &'m Vec<u8>)) {
        self.each_with_prefix(prefix, &mut |k, v| {
            if selector.is_none_or(|s| s.is_prefix_only() || s.matches_lowercase(k)) {
                f(k, v);
            }
        });
    }
    /// The value of `key`, to change in place.
    fn value_mut(&mut self, key: &str) -> Option<&mut Vec<u8>>;
    /// Set `key` (new or not).
    fn set(&mut self, key: Cow<'_, str>, value: Cow<'_, [u8]>);
    /// Remove `key`.
    fn delete(&mut self, key: &str);
    /// Number of entries.
    fn count(&self) -> usize;
}

impl VarMap for TxVars {
    fn entry_of(&self, key: &str) -> Option<(&String, &Vec<u8>)> {
        if let Some(slot) = self.slot_of(key) {
            return self.slot_entry(slot as u32);
        }
        self.values.get_key_value(key).filter(|(_, slot)| slot.set).map(|(k, slot)| (k, &slot.value))
    }

    fn each_with_prefix<'m>(&'m self, prefix: &str, f: &mut dyn FnMut(&'m String, &'m Vec<u8>)) {
        // The first byte alone turns most keys away, without a call to compare the rest.
        let first = prefix.as_bytes().first();
        let wanted = |k: &String| first.is_none_or(|b| k.as_bytes().first() == Some(b)) && k.starts_with(prefix);
        for (i, slot) in self.numbered.iter().enumerate() {
            if let Some(k) = self.names.name(i).filter(|k| slot.set && wanted(k)) {
                f(k, &slot.value);
            }
        }
        for (k, slot) in &self.values {
            if slot.set && wanted(k) {
                f(k, &slot.value);
            }
        }
    }

    fn each_selected<'m>(&'m self, selector: Option<&Selector>, prefix: &str, f: &mut dyn FnMut(&'m String, &'m Vec<u8>)) {
        let Some(numbered) = selector.and_then(Selector::tx_slots) else {
            self.each_with_prefix(prefix, &mut |k, v| {
                if selector.is_none_or(|s| s.is_prefix_only() || s.matches_lowercase(k)) {
                    f(k, v);
                }
            });
            return;
        };
        // The numbered names the selector selects were found when the engine was built: only
        // the names made at run time are tested here.
        for &slot in numbered {
            if let Some((k, v)) = self.slot_entry(slot) {
                f(k, v);
            }
        }
        let first = prefix.as_bytes().first();
        for (k, slot) in &self.values {
            let wanted = slot.set && first.is_none_or(|b| k.as_bytes().first() == Some(b)) && k.starts_with(prefix);
            if wanted && selector.is_none_or(|s| s.is_prefix_only() || s.matches_lowercase(k)) {
                f(k, &slot.value);
            }
        }
    }

    fn value_mut(&mut self, key: &str) -> Option<&mut Vec<u8>> {
        if let Some(slot) = self.slot_of(key) {
            return self.numbered.get_mut(slot).filter(|s| s.set).map(|s| &mut s.value);
        }
        self.values.get_mut(key).filter(|slot| slot.set).map(|slot| &mut slot.value)
    }

    fn set(&mut self, key: Cow<'_, str>, value: Cow<'_, [u8]>) {
        if let Some(slot) = self.slot_of(&key) {
            if let Some(buffer) = self.slot_buffer(slot as u32) {
                match value {
                    Cow::Borrowed(bytes) => buffer.extend_from_slice(bytes),
                    Cow::Owned(bytes) => *buffer = bytes,
                }
            }
            return;
        }
        // A kept slot takes the value into its buffer: no name or value allocated.
        if let Some(slot) = self.values.get_mut(&*key) {
            match value {
                Cow::Borrowed(bytes) => {
                    slot.value.clear();
                    slot.value.extend_from_slice(bytes);
                }
                Cow::Owned(bytes) => slot.value = bytes,
            }
            if !slot.set {
                slot.set = true;
                self.set += 1;
            }
            return;
        }
        self.values.insert(key.into_owned(), Slot { value: value.into_owned(), set: true });
        self.set += 1;
    }

    fn delete(&mut self, key: &str) {
        if let Some(slot) = self.slot_of(key) {
            self.slot_delete(slot as u32);
            return;
        }
        if self.values.remove(key).is_some_and(|slot| slot.set) {
            self.set -= 1;
        }
    }

    fn count(&self) -> usize {
        self.set
    }
}

impl VarMap for BTreeMap<String, Vec<u8>> {
    fn entry_of(&self, key: &str) -> Option<(&String, &Vec<u8>)> {
        self.get_key_value(key)
    }

    fn each_with_prefix<'m>(&'m self, prefix: &str, f: &mut dyn FnMut(&'m String, &'m Vec<u8>)) {
        // Sorted: the keys with the prefix are one run.
        for (k, v) in self.range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded)).take_while(|(k, _)| k.starts_with(prefix)) {
            f(k, v);
        }
    }

    fn value_mut(&mut self, key: &str) -> Option<&mut Vec<u8>> {
        self.get_mut(key)
    }

    fn set(&mut self, key: Cow<'_, str>, value: Cow<'_, [u8]>) {
        self.insert(key.into_owned(), value.into_owned());
    }

    fn delete(&mut self, key: &str) {
        self.remove(key);
    }

    fn count(&self) -> usize {
        self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_visits_every_entry() {
        let mut tx = TxVars::default();
        for k in ["b", "a_2", "c", "a_1"] {
            tx.set(k.into(), k.as_bytes().into());
        }
        tx.set("c".into(), b"new".to_vec().into());
        tx.delete("b");
        tx.delete("missing");
        assert_eq!(tx.count(), 3);
        assert_eq!(tx.get("c").map(Vec::as_slice), Some(&b"new"[..]));
        if let Some(v) = tx.value_mut("a_1") {
            v.push(b'!');
        }
        let mut keys: Vec<String> = Vec::new();
        tx.each_with_prefix("", &mut |k, _| keys.push(k.clone()));
        keys.sort();
        assert_eq!(keys, ["a_1", "a_2", "c"]);
        keys.clear();
        tx.each_with_prefix("a_", &mut |k, _| keys.push(k.clone()));
        keys.sort();
        assert_eq!(keys, ["a_1", "a_2"]);
        assert_eq!(tx.entry_of("a_1").map(|(_, v)| v.as_slice()), Some(&b"a_1!"[..]));
    }

    #[test]
    fn cleared_variables_are_gone_though_their_slots_are_kept() {
        let mut tx = TxVars::default();
        tx.set("a".into(), b"1".as_slice().into());
        tx.set("b".into(), b"2".as_slice().into());
        tx.clear();
        assert_eq!(tx.count(), 0);
        assert!(tx.get("a").is_none() && tx.entry_of("b").is_none() && tx.value_mut("a").is_none());
        let mut seen = 0;
        tx.each_with_prefix("", &mut |_, _| seen += 1);
        assert_eq!(seen, 0);
        tx.set("a".into(), b"3".as_slice().into());
        tx.delete("b");
        assert_eq!(tx.count(), 1);
        assert_eq!(tx.get("a").map(Vec::as_slice), Some(&b"3"[..]));
    }

    #[test]
    fn a_table_without_room_keeps_numbered_variables_by_name() {
        let mut tx = TxVars::default();
        tx.slot_set(3, b"captured");
        assert_eq!(tx.get("3").map(Vec::as_slice), Some(&b"captured"[..]));
        assert_eq!(tx.slot_entry(3).map(|(k, v)| (k.as_str(), v.as_slice())), Some(("3", &b"captured"[..])));
        assert!(tx.slot_value(4).is_none());
    }

    #[test]
    fn numbered_names_have_one_place_whichever_way_they_are_reached() {
        let mut names = TxNames::new();
        let (score, other) = (names.intern("score").unwrap_or(0), names.intern("other_x").unwrap_or(0));
        let mut tx = TxVars::with_room(Arc::new(names));
        tx.set("score".into(), b"1".as_slice().into());
        assert_eq!(tx.slot_value(score).map(Vec::as_slice), Some(&b"1"[..]));
        if let Some(b) = tx.slot_buffer(score) {
            b.extend_from_slice(b"7");
        }
        tx.slot_set(other, b"o");
        tx.set("other_y".into(), b"made up".as_slice().into());
        assert_eq!(tx.get("score").map(Vec::as_slice), Some(&b"7"[..]));
        assert_eq!(tx.entry_of("other_x").map(|(k, _)| k.as_str()), Some("other_x"));
        assert_eq!(tx.count(), 3);
        // A regex selector finds the numbered names it selects in its list, the others by test.
        let Ok(mut selector) = Selector::regex("^other_") else { panic!("compiles") };
        selector.set_tx_slots(vec![other]);
        let mut keys: Vec<String> = Vec::new();
        tx.each_selected(Some(&selector), "other_", &mut |k, _| keys.push(k.clone()));
        keys.sort();
        assert_eq!(keys, ["other_x", "other_y"]);
        tx.delete("other_x");
        tx.slot_delete(score);
        assert_eq!(tx.count(), 1);
        assert!(tx.get("score").is_none() && tx.slot_entry(other).is_none());
        tx.slot_set(score, b"2");
        tx.clear();
        assert_eq!(tx.count(), 0);
        assert!(tx.slot_value(score).is_none() && tx.get("other_y").is_none());
    }
}
