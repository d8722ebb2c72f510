//! [`TxNames`]: the `TX` variable names a rule set writes literally, numbered when the engine
//! is built, so that a transaction finds those variables by index instead of by hashing the name.
//!
//! The CRS reads and writes about two hundred `TX` variables per request, nearly all by names
//! written in the rules: targets (`TX:blocking_paranoia_level`), `setvar` keys
//! (`setvar:tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}`), macros in
//! messages and operator parameters (`@within %{tx.allowed_methods}`). [`number_tx_names`]
//! gives each such name a slot and points its uses at it ([`Rule::tx_slot`],
//! [`crate::actions::SetVar::slot`], [`Part::TxVariable`]); a transaction keeps those
//! variables in a table by slot ([`super::tx_vars::TxVars`]). Names made at run time
//! (`setvar:tx.header_name_920450_%{tx.0}`) are still kept by name, and every look-up by name
//! checks the numbered names first, so a name has one place whichever way it is reached.
//!
//! A `TX` regex selector (`TX:/paramcounter_.*/`) is tried on the numbered names once, here:
//! a walk visits the numbered variables it selects, then tests only the names made at run time
//! (a handful per request instead of every variable).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use crate::actions::{Action, SetVarOp};
use crate::parser::macros::{MacroText, Part};
use crate::rule::{Item, Rule};
use crate::vars::{Selector, Variable};

/// Most names numbered. A transaction's table has one slot per name (each keeping a value
/// buffer of at most [`super::tx_vars::KEPT_VALUE`] bytes between transactions), so this bounds
/// the memory a rule set with made-up names could make every spare table hold; names past it
/// are kept by name as before.
const MAX_NAMES: usize = 2048;

/// Names of the capture variables `TX.0`..`TX.9`, numbered first: capture `i` is slot `i`.
const CAPTURES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// The numbered names of an engine (lower-case, as `TX` stores its names).
#[derive(Debug)]
pub struct TxNames {
    names: Vec<String>,
    index: HashMap<String, u32, ahash::RandomState>,
}

/// The names of an engine without rules (and of tables made outside an engine): the captures.
pub(crate) static NO_NAMES: LazyLock<Arc<TxNames>> = LazyLock::new(|| Arc::new(TxNames::new()));

impl TxNames {
    /// The capture names only.
    pub(crate) fn new() -> TxNames {
        let mut names = TxNames { names: Vec::new(), index: HashMap::with_hasher(ahash::RandomState::new()) };
        for c in CAPTURES {
            names.intern(c);
        }
        names
    }

    /// The slot of `name` (lower-case), numbering it if new; `None` past [`MAX_NAMES`].
    pub(crate) fn intern(&mut self, name: &str) -> Option<u32> {
        if let Some(&slot) = self.index.get(name) {
            return Some(slot);
        }
        if self.names.len() >= MAX_NAMES {
            return None;
        }
        let slot = u32::try_from(self.names.len()).ok()?;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), slot);
        Some(slot)
    }

    /// The slot of `name` (lower-case), if numbered.
    pub(crate) fn slot(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// The name of `slot`.
    pub(crate) fn name(&self, slot: usize) -> Option<&String> {
        self.names.get(slot)
    }

    /// Number of names.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

/// The slot of capture `index` (`TX.0`..`TX.9`).
pub(crate) fn capture_slot(index: usize) -> Option<u32> {
    u32::try_from(index).ok().filter(|&i| (i as usize) < CAPTURES.len())
}

/// Number the `TX` names the rules of `phases` write literally and point their uses at the
/// slots: single `TX:key` targets, `setvar` keys, `%{tx.key}` in `setvar` values, messages,
/// log data and operator parameters; then give every `TX` regex selector the numbered names
/// it selects.
pub(crate) fn number_tx_names(phases: &mut [Vec<Item>; 5]) -> TxNames {
    let mut names = TxNames::new();
    for_each_link(phases, &mut |link| {
        link.tx_slot = match link.targets.targets.as_slice() {
            [t] if t.variable == Variable::Tx => t.selector.as_ref().and_then(Selector::key).and_then(|k| names.intern(k)),
            _ => None,
        };
        for action in &mut link.actions {
            let Action::SetVar(s) = action else { continue };
            if s.collection == Variable::Tx {
                s.slot = match s.key.parts.as_slice() {
                    [Part::Literal(key)] => names.intern(key),
                    _ => None,
                };
            }
            match &mut s.op {
                SetVarOp::Set(v) | SetVarOp::Add(v) | SetVarOp::Sub(v) => number_macros(v, &mut names),
                SetVarOp::Delete => {}
            }
        }
        let meta = &mut link.metadata;
        for text in meta.msg.iter_mut().chain(meta.logdata.iter_mut()) {
            number_macros(text, &mut names);
        }
        if let Some(text) = link.operator.as_mut().and_then(|op| op.operator.macros_mut()) {
            number_macros(text, &mut names);
        }
    });
    for_each_link(phases, &mut |link| {
        for t in &mut link.targets.targets {
            if t.variable == Variable::Tx {
                if let Some(selector) = &mut t.selector {
                    let selected = names.names.iter().enumerate().filter(|(_, name)| selector.matches(name));
                    let slots: Vec<u32> = selected.filter_map(|(i, _)| u32::try_from(i).ok()).collect();
                    selector.set_tx_slots(slots);
                }
            }
        }
    });
    names
}

/// `%{tx.key}` parts (not `%{tx./regex/}`) become [`Part::TxVariable`] with the key's slot.
fn number_macros(text: &mut MacroText, names: &mut TxNames) {
    for part in &mut text.parts {
        let Part::Variable { collection, key: Some(key) } = part else { continue };
        if collection != "TX" || key.starts_with('/') {
            continue;
        }
        if let Some(slot) = names.intern(key) {
            *part = Part::TxVariable { key: std::mem::take(key), slot };
        }
    }
}

fn for_each_link(phases: &mut [Vec<Item>; 5], f: &mut dyn FnMut(&mut Rule)) {
    for item in phases.iter_mut().flatten() {
        let Item::Rule(rule) = item else { continue };
        let mut link = Some(rule.as_mut());
        while let Some(r) = link {
            f(r);
            link = r.chain.as_deref_mut();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_come_first_and_names_are_bounded() {
        let mut names = TxNames::new();
        assert_eq!((0..10).map(capture_slot).collect::<Vec<_>>(), (0..10).map(Some).collect::<Vec<_>>());
        assert_eq!(capture_slot(10), None);
        assert_eq!(names.slot("7"), Some(7));
        assert_eq!(names.intern("anomaly_score"), Some(10));
        assert_eq!(names.intern("anomaly_score"), Some(10));
        for i in names.len()..MAX_NAMES {
            assert!(names.intern(&format!("n{i}")).is_some());
        }
        assert_eq!(names.intern("one_too_many"), None);
        assert_eq!(names.len(), MAX_NAMES);
    }
}
