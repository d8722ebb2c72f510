//! One literal search for all rules: the [`LiteralIndex`].
//!
//! Most CRS operators can only match a value that contains one of a few literals: the
//! required literals of an `@rx` pattern ([`crate::operator::required_literals`]), the phrases
//! of a `@pm`. A rule's operator runs on every value its variables yield — a dozen values for
//! each of a few hundred rules per request — and nearly every value holds none of the rule's
//! literals. Searching each rule's set separately scans the same value once per rule; the
//! index gathers every rule's set into one Aho-Corasick automaton, scans a (transformed)
//! value once, and answers with the set of rules ("groups") one of whose literals it holds.
//! The transaction keeps that answer beside the transformation cache's entry for the value,
//! so every later rule with the same transformation chain reads one bit instead of scanning.
//!
//! Literals are lower-case and searched ASCII-case-insensitively, as each operator's own
//! prefilter does, so the answer is the same: a group's bit is clear only when its operator
//! surely does not match.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// Every prefiltered rule's literals, searched in one pass.
pub struct LiteralIndex {
    /// `None` when no rule has literals.
    matcher: Option<AhoCorasick>,
    /// For literal `i`, its groups are `groups[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    groups: Vec<u32>,
    /// Number of groups.
    group_count: usize,
}

impl std::fmt::Debug for LiteralIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LiteralIndex({} groups, {} literals)", self.group_count, self.starts.len().saturating_sub(1))
    }
}

impl Default for LiteralIndex {
    fn default() -> LiteralIndex {
        LiteralIndex { matcher: None, starts: vec![0], groups: Vec::new(), group_count: 0 }
    }
}

impl LiteralIndex {
    /// An index over `sets`: group `g` is `sets[g]`. An empty set is a group whose bit is
    /// never set (an operator that matches nothing).
    pub fn new(sets: &[Vec<Vec<u8>>]) -> LiteralIndex {
        let mut ids: HashMap<&[u8], usize> = HashMap::new();
        let mut literals: Vec<&[u8]> = Vec::new();
        let mut members: Vec<Vec<u32>> = Vec::new();
        for (group, set) in sets.iter().enumerate() {
            let group = u32::try_from(group).unwrap_or(u32::MAX);
            for lit in set {
                let id = *ids.entry(lit.as_slice()).or_insert_with(|| {
                    literals.push(lit);
                    members.push(Vec::new());
                    literals.len() - 1
                });
                if members[id].last() != Some(&group) {
                    members[id].push(group);
                }
            }
        }
        let matcher = if literals.is_empty() {
            None
        } else {
            // Standard semantics: the overlapping search must report every literal present.
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                // A DFA: about twice as fast as the contiguous NFA here, for ~25 MB with the CRS.
                .kind(Some(AhoCorasickKind::DFA))
                .build(&literals)
                .ok()
        };
        let mut starts = Vec::with_capacity(members.len() + 1);
        let mut groups = Vec::new();
        starts.push(0);
        for m in members {
            groups.extend(m);
            starts.push(u32::try_from(groups.len()).unwrap_or(u32::MAX));
        }
        let group_count = if matcher.is_some() { sets.len() } else { 0 };
        LiteralIndex { matcher, starts, groups, group_count }
    }

    /// Whether the index has any group (else rules keep their own prefilters).
    pub fn is_empty(&self) -> bool {
        self.group_count == 0
    }

    /// `u64` words a group set takes.
    pub fn words(&self) -> usize {
        self.group_count.div_ceil(64)
    }

    /// Set in `out` (of [`LiteralIndex::words`] words, cleared by the caller) the bit of
    /// every group one of whose literals `input` contains.
    pub fn scan(&self, input: &[u8], out: &mut [u64]) {
        let Some(matcher) = &self.matcher else { return };
        for m in matcher.find_overlapping_iter(input) {
            let lit = m.pattern().as_usize();
            let (from, to) = (self.starts[lit] as usize, self.starts[lit + 1] as usize);
            for &g in &self.groups[from..to] {
                out[g as usize / 64] |= 1 << (g % 64);
            }
        }
    }
}

/// Whether group `group`'s bit is set in `bits`.
pub fn has(bits: &[u64], group: u32) -> bool {
    bits.get(group as usize / 64).is_some_and(|w| w & (1 << (group % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn groups_of_every_literal_present() {
        let index = LiteralIndex::new(&[set(&["select", "union"]), set(&["script"]), set(&["lect"]), set(&[])]);
        let mut bits = vec![0u64; index.words()];
        index.scan(b"xx SeLeCt yy", &mut bits);
        // Overlapping literals are both found ("lect" inside "select").
        assert!(has(&bits, 0) && !has(&bits, 1) && has(&bits, 2) && !has(&bits, 3));
        let mut bits = vec![0u64; index.words()];
        index.scan(b"<SCRIPT>", &mut bits);
        assert!(!has(&bits, 0) && has(&bits, 1));
    }

    #[test]
    fn shared_literals_and_many_groups() {
        let sets: Vec<Vec<Vec<u8>>> = (0..130).map(|i| set(&[if i % 2 == 0 { "even" } else { "odd" }])).collect();
        let index = LiteralIndex::new(&sets);
        let mut bits = vec![0u64; index.words()];
        index.scan(b"ODD", &mut bits);
        assert!((0..130).all(|g| has(&bits, g) == (g % 2 == 1)));
    }
}
