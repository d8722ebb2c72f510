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

use std::collections::{BTreeMap, HashMap};

/// Room for the variables the CRS sets in a request (about two hundred), so the table is not
/// rebuilt as it fills.
const INITIAL_VARIABLES: usize = 256;
/// Most name and value buffers kept for the next variables (see [`TxVars::clear`]).
const MAX_SPARE_BUFFERS: usize = INITIAL_VARIABLES;

/// `TX`: variables by lower-cased name.
#[derive(Debug)]
pub struct TxVars {
    values: HashMap<String, Vec<u8>, ahash::RandomState>,
    /// Emptied name and value buffers of forgotten variables: the CRS sets about a hundred
    /// variables per request, two allocations each, and frees them all when it ends; a
    /// transaction that takes these (through `tx::spare`) sets its variables without
    /// allocating.
    spare: Vec<(String, Vec<u8>)>,
}

impl Default for TxVars {
    /// Empty, without room (a transaction gets a table with room from its engine's spares).
    fn default() -> TxVars {
        TxVars { values: HashMap::with_hasher(ahash::RandomState::new()), spare: Vec::new() }
    }
}

impl TxVars {
    /// Empty, with room for a CRS request's variables.
    pub(crate) fn with_room() -> TxVars {
        TxVars {
            values: HashMap::with_capacity_and_hasher(INITIAL_VARIABLES, ahash::RandomState::new()),
            spare: Vec::with_capacity(MAX_SPARE_BUFFERS),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Vec<u8>> {
        self.values.get(key)
    }

    /// About how many bytes the table, its variables and the spare buffers hold allocated.
    pub(crate) fn room_bytes(&self) -> usize {
        let buffers = |(k, v): (&String, &Vec<u8>)| k.capacity() + v.capacity();
        self.values.capacity() * (std::mem::size_of::<(String, Vec<u8>)>() + 1)
            + self.spare.capacity() * std::mem::size_of::<(String, Vec<u8>)>()
            + self.values.iter().map(buffers).sum::<usize>()
            + self.spare.iter().map(|(k, v)| buffers((k, v))).sum::<usize>()
    }

    /// Forget every variable, keeping the table's room and (up to [`MAX_SPARE_BUFFERS`]) the
    /// variables' buffers, emptied, for the next ones (see `tx::spare`).
    pub(crate) fn clear(&mut self) {
        let room = MAX_SPARE_BUFFERS.saturating_sub(self.spare.len());
        self.spare.extend(self.values.drain().take(room).map(emptied));
        self.values.clear();
    }
}

/// A collection of named values as rules read and write it: `TX` ([`TxVars`]) or a
/// persistent collection (a `BTreeMap`, as the store keeps it). Keys are lower-case.
pub trait VarMap {
    /// The stored key and value for `key`.
    fn entry_of(&self, key: &str) -> Option<(&String, &Vec<u8>)>;
    /// Call `f` with every entry, in no particular order.
    fn each<'m>(&'m self, f: &mut dyn FnMut(&'m String, &'m Vec<u8>));
    /// The value of `key`, to change in place.
    fn value_mut(&mut self, key: &str) -> Option<&mut Vec<u8>>;
    /// Set `key` (new or not).
    fn set(&mut self, key: &str, value: &[u8]);
    /// Remove `key`.
    fn delete(&mut self, key: &str);
    /// Number of entries.
    fn count(&self) -> usize;
}

/// A variable's buffers, emptied for another.
fn emptied((mut name, mut value): (String, Vec<u8>)) -> (String, Vec<u8>) {
    name.clear();
    value.clear();
    (name, value)
}

impl VarMap for TxVars {
    fn entry_of(&self, key: &str) -> Option<(&String, &Vec<u8>)> {
        self.values.get_key_value(key)
    }

    fn each<'m>(&'m self, f: &mut dyn FnMut(&'m String, &'m Vec<u8>)) {
        for (k, v) in &self.values {
            f(k, v);
        }
    }

    fn value_mut(&mut self, key: &str) -> Option<&mut Vec<u8>> {
        self.values.get_mut(key)
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        if let Some(known) = self.values.get_mut(key) {
            known.clear();
            known.extend_from_slice(value);
            return;
        }
        let (mut name, mut bytes) = self.spare.pop().unwrap_or_default();
        name.push_str(key);
        bytes.extend_from_slice(value);
        self.values.insert(name, bytes);
    }

    fn delete(&mut self, key: &str) {
        if let Some(entry) = self.values.remove_entry(key) {
            if self.spare.len() < MAX_SPARE_BUFFERS {
                self.spare.push(emptied(entry));
            }
        }
    }

    fn count(&self) -> usize {
        self.values.len()
    }
}

impl VarMap for BTreeMap<String, Vec<u8>> {
    fn entry_of(&self, key: &str) -> Option<(&String, &Vec<u8>)> {
        self.get_key_value(key)
    }

    fn each<'m>(&'m self, f: &mut dyn FnMut(&'m String, &'m Vec<u8>)) {
        for (k, v) in self {
            f(k, v);
        }
    }

    fn value_mut(&mut self, key: &str) -> Option<&mut Vec<u8>> {
        self.get_mut(key)
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        self.insert(key.to_string(), value.to_vec());
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
            tx.set(k, k.as_bytes());
        }
        tx.set("c", b"new");
        tx.delete("b");
        tx.delete("missing");
        assert_eq!(tx.count(), 3);
        assert_eq!(tx.get("c").map(Vec::as_slice), Some(&b"new"[..]));
        if let Some(v) = tx.value_mut("a_1") {
            v.push(b'!');
        }
        let mut keys: Vec<String> = Vec::new();
        tx.each(&mut |k, _| keys.push(k.clone()));
        keys.sort();
        assert_eq!(keys, ["a_1", "a_2", "c"]);
        assert_eq!(tx.entry_of("a_1").map(|(_, v)| v.as_slice()), Some(&b"a_1!"[..]));
    }

    #[test]
    fn buffers_of_forgotten_variables_serve_the_next() {
        let mut tx = TxVars::with_room();
        tx.set("anomaly_score", b"5");
        tx.set("x", b"long enough to allocate");
        tx.clear();
        assert_eq!(tx.count(), 0);
        assert_eq!(tx.spare.len(), 2);
        tx.set("y", b"1");
        assert_eq!(tx.spare.len(), 1);
        assert_eq!(tx.get("y").map(Vec::as_slice), Some(&b"1"[..]));
        assert!(tx.get("x").is_none() && tx.get("anomaly_score").is_none());
        tx.delete("y");
        assert_eq!(tx.spare.len(), 2);
        assert!(tx.room_bytes() > 0);
    }
}
