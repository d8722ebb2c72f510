//! Running non-disruptive actions (`setvar`, `ctl`, `initcol`, `setenv`) on a transaction.

use std::borrow::Cow;

use super::expand::{expand, expand_string};
use super::state::RuleSelector;
use super::tx_vars::VarMap;
use super::Transaction;
use crate::actions::setvar::to_int;
use crate::actions::{Action, Ctl, SetVar, SetVarOp};
use crate::parser::macros::Part;
use crate::vars::Variable;

/// Most `TX` / persistent variables a transaction may hold; `setvar` past it is ignored, so
/// that rules fed with attacker-chosen keys cannot grow memory without bound.
const MAX_VARIABLES: usize = 10_000;

/// The result of `=+` / `=-` (`op`) on a variable's current value (0 when unset).
fn arithmetic(op: &SetVarOp, current: Option<&[u8]>, delta: &[u8]) -> i64 {
    let current = current.map_or(0, to_int);
    let delta = to_int(delta);
    if matches!(op, SetVarOp::Add(_)) { current.saturating_add(delta) } else { current.saturating_sub(delta) }
}

/// Append `n` in decimal (as `n.to_string()` writes it, without the formatting machinery).
fn push_int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut rest = n.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Transaction {
    pub(crate) fn run_action(&mut self, action: &Action) {
        // These write request data whose bytes the transformation cache knows by address.
        if matches!(action, Action::InitCol(_) | Action::SetEnv(_) | Action::Ctl(Ctl::RequestBodyProcessor(_))) {
            self.cache.clear();
        }
        match action {
            Action::SetVar(s) => self.set_var(s),
            Action::Ctl(c) => self.run_ctl(c),
            Action::InitCol(init) => {
                let key = expand_string(&self.data, &init.key);
                let name = init.collection.name();
                let mut record = self.engine.store.load(name, &key).unwrap_or_default();
                crate::actions::storage::purge_expired(&mut record, now());
                self.data.persistent.insert(name, (key, record));
            }
            Action::ExpireVar(e) => {
                let key = expand_string(&self.data, &e.key).to_ascii_lowercase();
                let seconds: u64 = expand_string(&self.data, &e.seconds).trim().parse().unwrap_or(0);
                let at = (now() + seconds).to_string().into_bytes();
                let map: &mut dyn VarMap = match e.collection {
                    Variable::Tx => &mut self.data.tx,
                    other => match self.data.persistent.get_mut(other.name()) {
                        Some((_, record)) => record,
                        None => return,
                    },
                };
                map.set(crate::actions::storage::expiry_key(&key).into(), at.into());
            }
            Action::SetEnv(e) => {
                let value = expand(&self.data, &e.value);
                self.data.env.set(&e.name, value);
            }
        }
    }

    fn set_var(&mut self, s: &SetVar) {
        // Literal values (`=0`, `=+5`) are used as written, not copied into a new buffer.
        let value: Cow<'_, [u8]> = match &s.op {
            SetVarOp::Set(v) | SetVarOp::Add(v) | SetVarOp::Sub(v) => match v.parts.as_slice() {
                [Part::Literal(l)] => Cow::Borrowed(l.as_bytes()),
                _ => Cow::Owned(expand(&self.data, v)),
            },
            SetVarOp::Delete => Cow::Borrowed(b""),
        };
        if let Some(slot) = s.slot {
            self.set_tx_slot(s, slot, &value);
            return;
        }
        // A literal key (most are) was lower-cased when the rule was read.
        let key: Cow<'_, str> = match s.key.parts.as_slice() {
            [Part::Literal(l)] => Cow::Borrowed(l),
            _ => Cow::Owned(expand_string(&self.data, &s.key).to_ascii_lowercase()),
        };
        let map: &mut dyn VarMap = match s.collection {
            Variable::Tx => &mut self.data.tx,
            other => match self.data.persistent.get_mut(other.name()) {
                Some((_, record)) => record,
                None => return,
            },
        };
        let slot = map.value_mut(&key);
        let value: Cow<'_, [u8]> = match &s.op {
            SetVarOp::Set(_) => value,
            SetVarOp::Add(_) | SetVarOp::Sub(_) => {
                let mut next = Vec::new();
                push_int(&mut next, arithmetic(&s.op, slot.as_deref().map(Vec::as_slice), &value));
                Cow::Owned(next)
            }
            SetVarOp::Delete => {
                map.delete(&key);
                return;
            }
        };
        // An existing variable is overwritten in place (its buffer reused): no new key.
        if let Some(slot) = slot {
            match value {
                Cow::Borrowed(bytes) => {
                    slot.clear();
                    slot.extend_from_slice(bytes);
                }
                Cow::Owned(bytes) => *slot = bytes,
            }
        } else if map.count() < MAX_VARIABLES {
            map.set(key, value);
        }
    }

    /// `setvar` on a `TX` variable the engine numbered (see `tx::tx_names`): the new value
    /// goes into the slot's buffer, the sum of `=+` / `=-` written there without an allocation.
    fn set_tx_slot(&mut self, s: &SetVar, slot: u32, value: &[u8]) {
        let tx = &mut self.data.tx;
        if !tx.slot_is_set(slot) && tx.count() >= MAX_VARIABLES && !matches!(s.op, SetVarOp::Delete) {
            return;
        }
        match &s.op {
            SetVarOp::Set(_) => tx.slot_set(slot, value),
            SetVarOp::Add(_) | SetVarOp::Sub(_) => {
                let next = arithmetic(&s.op, tx.slot_value(slot).map(Vec::as_slice), value);
                match tx.slot_buffer(slot) {
                    Some(buffer) => push_int(buffer, next),
                    None => {
                        let mut digits = Vec::new();
                        push_int(&mut digits, next);
                        tx.slot_set(slot, &digits);
                    }
                }
            }
            SetVarOp::Delete => tx.slot_delete(slot),
        }
    }

    fn run_ctl(&mut self, c: &Ctl) {
        let s = &mut self.state;
        match c {
            Ctl::RuleEngine(mode) => s.mode = *mode,
            Ctl::RuleRemoveById(r) => s.removed_ids.extend_from_slice(r),
            Ctl::RuleRemoveByTag(t) => s.removed_tags.push(t.clone()),
            Ctl::RuleRemoveByMsg(m) => s.removed_msgs.push(m.clone()),
            Ctl::RuleRemoveTargetById(ids, ex) => {
                s.removed_targets.extend(ex.iter().map(|e| (RuleSelector::Ids(ids.clone()), e.clone())))
            }
            Ctl::RuleRemoveTargetByTag(t, ex) => {
                s.removed_targets.extend(ex.iter().map(|e| (RuleSelector::Tag(t.clone()), e.clone())))
            }
            Ctl::RuleRemoveTargetByMsg(m, ex) => {
                s.removed_targets.extend(ex.iter().map(|e| (RuleSelector::Msg(m.clone()), e.clone())))
            }
            Ctl::RequestBodyProcessor(kind) => {
                self.data.reqbody_processor = Some(*kind);
                self.data.reqbody_processor_name = Some(kind.name().to_string());
            }
            Ctl::RequestBodyAccess(on) => s.request_body_access = *on,
            Ctl::ResponseBodyAccess(on) => s.response_body_access = *on,
            Ctl::ForceRequestBodyVariable(on) => s.force_request_body_variable = *on,
            Ctl::RequestBodyLimit(n) => s.request_body_limit = *n,
            Ctl::Accepted(_) => {}
        }
    }
}
