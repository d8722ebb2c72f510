//! [`TxVars`]: the `TX` collection, and [`VarMap`], what fetching and `setvar` need of it and
//! of the persistent collections alike.
//!
//! The CRS reads `TX` variables by name a few hundred times per request (paranoia levels,
//! anomaly scores, the allowed methods and content types) and walks it only through a handful
//! of regex selectors (`TX:/^header_name_920450_/`). A hash map answers the reads with one
//! hash and one comparison instead of a tree descent comparing the key to a dozen others; a
//! walk sorts the few keys it selects, so they come in the order a sorted map (and
//! ModSecurity) gives. The hash is aHash with per-process random keys (`ahash::RandomState`):
//! keys can be built from request data (`setvar:tx.header_name_%{tx.0}`) and must not be
//! choosable to collide, which a keyed hash ensures as SipHash did, at a fraction of its cost
//! for the short keys the CRS uses.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// Room for the variables the CRS sets in a request (about two hundred), so the table is not
/// rebuilt as it fills.
const INITIAL_VARIABLES: usize = 256;
/// A finished transaction's variables are kept, unset, for the next one to set again without
/// allocating a name and a value (the CRS sets the same two hundred in every request), when
/// there are at most this many...
const KEPT_VARIABLES: usize = 512;
/// ... and only those whose name and value buffer are at most this long, so that the memory a
/// spare table holds stays bounded whatever names requests made up.
const KEPT_NAME: usize = 64;
const KEPT_VALUE: usize = 256;

/// `TX`: variables by lower-cased name.
#[derive(Debug)]
pub struct TxVars {
    values: HashMap<String, Slot, ahash::RandomState>,
    /// How many slots are set.
    set: usize,
}

/// A variable's place in the table: set, or kept from an earlier transaction for its buffers.
#[derive(Debug)]
struct Slot {
    value: Vec<u8>,
    set: bool,
}

impl Default for TxVars {
    /// Empty, without room (a transaction gets a table with room from its engine's spares).
    fn default() -> TxVars {
        TxVars { values: HashMap::with_hasher(ahash::RandomState::new()), set: 0 }
    }
}

impl TxVars {
    /// Empty, with room for a CRS request's variables.
    pub(crate) fn with_room() -> TxVars {
        TxVars { values: HashMap::with_capacity_and_hasher(INITIAL_VARIABLES, ahash::RandomState::new()), set: 0 }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Vec<u8>> {
        self.values.get(key).filter(|slot| slot.set).map(|slot| &slot.value)
    }

    /// About how many bytes the table holds allocated, however full (kept names and values
    /// are bounded by [`KEPT_NAME`] and [`KEPT_VALUE`]).
    pub(crate) fn room_bytes(&self) -> usize {
        self.values.capacity() * (std::mem::size_of::<(String, Slot)>() + 1)
    }

    /// Forget every variable, keeping the table's room and, within bounds, its names and value
    /// buffers for the next transaction (see `tx::spare`).
    pub(crate) fn clear(&mut self) {
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
        self.values.get_key_value(key).filter(|(_, slot)| slot.set).map(|(k, slot)| (k, &slot.value))
    }

    fn each_with_prefix<'m>(&'m self, prefix: &str, f: &mut dyn FnMut(&'m String, &'m Vec<u8>)) {
        // The first byte alone turns most keys away, without a call to compare the rest.
        let first = prefix.as_bytes().first();
        for (k, slot) in &self.values {
            if slot.set && first.is_none_or(|b| k.as_bytes().first() == Some(b)) && k.starts_with(prefix) {
                f(k, &slot.value);
            }
        }
    }

    fn value_mut(&mut self, key: &str) -> Option<&mut Vec<u8>> {
        self.values.get_mut(key).filter(|slot| slot.set).map(|slot| &mut slot.value)
    }

    fn set(&mut self, key: Cow<'_, str>, value: Cow<'_, [u8]>) {
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
}
