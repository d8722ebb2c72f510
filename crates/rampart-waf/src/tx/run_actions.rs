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
        // A literal key (most are) was lower-cased when the rule was read.
        let key: Cow<'_, str> = match s.key.parts.as_slice() {
            [Part::Literal(l)] => Cow::Borrowed(l),
            _ => Cow::Owned(expand_string(&self.data, &s.key).to_ascii_lowercase()),
        };
        // Literal values (`=0`, `=+5`) are used as written, not copied into a new buffer.
        let value: Cow<'_, [u8]> = match &s.op {
            SetVarOp::Set(v) | SetVarOp::Add(v) | SetVarOp::Sub(v) => match v.parts.as_slice() {
                [Part::Literal(l)] => Cow::Borrowed(l.as_bytes()),
                _ => Cow::Owned(expand(&self.data, v)),
            },
            SetVarOp::Delete => Cow::Borrowed(b""),
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
                let current = slot.as_deref().map_or(0, |v| to_int(v));
                let delta = to_int(&value);
                let next = if matches!(s.op, SetVarOp::Add(_)) { current.saturating_add(delta) } else { current.saturating_sub(delta) };
                Cow::Owned(next.to_string().into_bytes())
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
