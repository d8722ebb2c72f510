//! [`Buffers`]: the allocations of matched values, recycled.
//!
//! A clean CRS request matches about seventy-five rules (the initialisation `SecAction`s, the
//! paranoia-level skips, the anomaly-score checks: `nolog`, `pass`), each with a matched value
//! that the report keeps: a name (`TX:detection_paranoia_level`), a value and the list that
//! holds them: three allocations per match, freed when the transaction ends. Instead a finished transaction's matched values give their
//! buffers back here ([`Buffers::recycle`]), and the next transaction's matches take them
//! ([`Buffers::name`], [`Buffers::value`], [`Buffers::list`]). What the transaction reports is
//! unchanged: the buffers only carry capacity.
//!
//! Bounded like the other spares (see `tx::spare`): at most [`KEPT`] buffers of each kind, names
//! of at most [`KEPT_NAME`] bytes, values of at most [`KEPT_VALUE`], lists of at most
//! [`KEPT_LIST`] values; the rest are freed.

use super::outcome::{MatchedRule, MatchedValue};

/// Most buffers kept of each kind: more than a clean CRS request matches.
const KEPT: usize = 128;
/// Largest name buffer kept (`ARGS:` and the argument's name, most often).
const KEPT_NAME: usize = 128;
/// Largest value buffer kept (values are reported cut to 512 bytes; most are short).
const KEPT_VALUE: usize = 512;
/// Largest list of values kept (nearly every rule matches one value).
const KEPT_LIST: usize = 8;

/// Recycled buffers, empty.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    names: Vec<String>,
    values: Vec<Vec<u8>>,
    lists: Vec<Vec<MatchedValue>>,
    /// Their capacity, in bytes.
    bytes: usize,
}

impl Buffers {
    /// An empty name buffer (recycled if there is one).
    pub(crate) fn name(&mut self) -> String {
        let name = self.names.pop().unwrap_or_default();
        self.bytes -= name.capacity();
        name
    }

    /// An empty value buffer (recycled if there is one).
    pub(crate) fn value(&mut self) -> Vec<u8> {
        let value = self.values.pop().unwrap_or_default();
        self.bytes -= value.capacity();
        value
    }

    /// An empty list for a matched rule's values (recycled if there is one).
    pub(crate) fn list(&mut self) -> Vec<MatchedValue> {
        let list = self.lists.pop().unwrap_or_default();
        self.bytes -= list.capacity() * std::mem::size_of::<MatchedValue>();
        list
    }

    /// Take back a name and a value buffer (emptied; freed past the bounds).
    pub(crate) fn give(&mut self, mut name: String, mut value: Vec<u8>) {
        if self.names.len() < KEPT && (1..=KEPT_NAME).contains(&name.capacity()) {
            name.clear();
            self.bytes += name.capacity();
            self.names.push(name);
        }
        if self.values.len() < KEPT && (1..=KEPT_VALUE).contains(&value.capacity()) {
            value.clear();
            self.bytes += value.capacity();
            self.values.push(value);
        }
    }

    /// Take back the buffers of a finished transaction's matched rules, which are left without
    /// values.
    pub(crate) fn recycle(&mut self, rules: &mut [MatchedRule]) {
        for rule in rules {
            let mut list = std::mem::take(&mut rule.matched);
            for m in list.drain(..) {
                self.give(m.name, m.value.into_bytes());
            }
            if self.lists.len() < KEPT && (1..=KEPT_LIST).contains(&list.capacity()) {
                self.bytes += list.capacity() * std::mem::size_of::<MatchedValue>();
                self.lists.push(list);
            }
        }
    }

    /// How many bytes the kept buffers hold.
    pub(crate) fn room_bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_within_bounds() {
        let mut b = Buffers::default();
        b.give(String::with_capacity(10) + "ARGS:a", b"value".to_vec());
        b.give(String::with_capacity(KEPT_NAME + 1), Vec::new());
        assert_eq!((b.names.len(), b.values.len()), (1, 1));
        let name = b.name();
        assert!(name.is_empty() && name.capacity() >= 10);
        assert!(b.value().is_empty());
        assert_eq!(b.room_bytes(), 0);
        for _ in 0..KEPT + 5 {
            b.give(String::from("n"), vec![1]);
        }
        assert_eq!(b.names.len(), KEPT);
        assert_eq!(b.room_bytes(), 2 * KEPT);
        let mut rules = vec![crate::tx::MatchedRule {
            id: 1, phase: 1, msg: String::new(), data: String::new(), severity: None, tags: Vec::new().into(), ver: None, rev: None,
            maturity: None, accuracy: None, log: false, disruptive: false, file: "f".into(), line: 1,
            matched: vec![MatchedValue { name: "TX:a".into(), value: "1".into() }],
        }];
        let mut emptied = Buffers::default();
        emptied.recycle(&mut rules);
        assert!(rules[0].matched.is_empty() && emptied.names.len() == 1 && emptied.values.len() == 1 && emptied.lists.len() == 1);
    }
}
