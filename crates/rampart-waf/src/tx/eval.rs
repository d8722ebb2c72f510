//! Running a phase: rules in order, markers, `skip`/`skipAfter`, chains, transformations,
//! operators, and what happens when a rule matches.

use std::borrow::Cow;

use super::buffers::Buffers;
use super::expand::{expand_string, EvalContext};
use super::literal_skip;
use super::data::TxData;
use super::tx_vars::VarMap;
use super::outcome::{Intervention, MatchedRule, MatchedValue};
use super::state::RuleSelector;
use super::Transaction;
use crate::actions::ctl::in_ranges;
use crate::actions::{AllowScope, Disruptive};
use crate::config::EngineMode;
use crate::rule::{Item, Rule};
use crate::transform::{intersects, ByteSet};
use crate::vars::fetch::{fetch, single, Value, Visit};
use crate::vars::Exclusion;
use crate::vars::Variable;

/// Most bytes of a matched value kept for the log.
const MAX_LOGGED_VALUE: usize = 512;

/// A value that matched, owned so that the transaction can be updated afterwards.
#[derive(Debug)]
pub(crate) struct Hit {
    name: String,
    value: Vec<u8>,
    captures: Vec<(usize, Vec<u8>)>,
}

/// What testing a link's values needs, borrowed from the transaction for one link.
struct ValueCheck<'t, 'd> {
    link: &'t Rule,
    op: &'t crate::rule::RuleOperator,
    ctx: EvalContext<'d>,
    cache: &'t mut super::cache::TransformCache,
    literals: &'t crate::prefilter::LiteralIndex,
    use_cache: bool,
    hits: &'t mut Vec<Hit>,
    buffers: &'t mut Buffers,
}

impl ValueCheck<'_, '_> {
    /// Transform one value by the link's chain and test it with the operator; a match (or,
    /// for a negated operator, a value skipped for lacking what it needs) goes to `hits`.
    fn test(&mut self, value: &Value<'_>) {
        let (link, op) = (self.link, self.op);
        // Only bytes borrowed from request data have a stable identity (see `cache`).
        let borrowed = matches!(value.value, Cow::Borrowed(_));
        let entry = if self.use_cache && borrowed && cacheable(value.variable) {
            self.cache.get_or_insert(link.chain_id, &value.value, |v, held| transform(link, v, held))
        } else {
            None
        };
        if let Some(entry) = entry {
            let cache = &mut *self.cache;
            // None of the operator's required bytes, or of its literals, in the value: it
            // cannot match.
            let lacks_byte = link
                .required_bytes
                .is_some_and(|needed| cache.value_bytes(entry, &value.value).is_some_and(|held| !intersects(&held, &needed)));
            let lacks_literal = !lacks_byte && link.prefilter.is_some_and(|group| !cache.has_literal(entry, group, self.literals, &value.value));
            if lacks_byte || lacks_literal {
                if op.negated {
                    let input = cache.resolve(entry, &value.value);
                    let bytes = copied(self.buffers, input);
                    self.hit(value, bytes, Vec::new());
                }
                return;
            }
            let input = cache.resolve(entry, &value.value);
            if test(op, &mut self.ctx, input) {
                let bytes = copied(self.buffers, input);
                let captures = std::mem::take(&mut self.ctx.captures);
                self.hit(value, bytes, captures);
            } else {
                self.ctx.captures.clear();
            }
            return;
        }
        let ctx = &mut self.ctx;
        let mut current: Cow<'_, [u8]> = Cow::Borrowed(value.value.as_ref());
        let mut hit = false;
        if link.multi_match && test(op, ctx, &current) {
            hit = true;
        }
        for t in &link.transforms {
            if let Some(v) = changed(t.function, &current) {
                current = Cow::Owned(v);
                if link.multi_match && !hit && test(op, ctx, &current) {
                    hit = true;
                }
            }
        }
        if !link.multi_match || link.transforms.is_empty() {
            hit = test(op, ctx, &current);
        }
        if hit {
            let bytes = match current {
                Cow::Owned(v) => v,
                Cow::Borrowed(b) => copied(self.buffers, b),
            };
            let captures = std::mem::take(&mut self.ctx.captures);
            self.hit(value, bytes, captures);
        } else {
            ctx.captures.clear();
        }
    }

    /// Record a matching value (its name written into a recycled buffer, see `tx::buffers`).
    fn hit(&mut self, value: &Value<'_>, bytes: Vec<u8>, captures: Vec<(usize, Vec<u8>)>) {
        let mut name = self.buffers.name();
        value.write_full_name(&mut name);
        self.hits.push(Hit { name, value: bytes, captures });
    }
}

/// `bytes` in a recycled buffer.
fn copied(buffers: &mut Buffers, bytes: &[u8]) -> Vec<u8> {
    let mut v = buffers.value();
    v.extend_from_slice(bytes);
    v
}

/// The one value of a link that reads one variable holding at most one value: a `TX`
/// variable by name (`TX:key`, `&TX:key`) or a variable that is not a collection
/// (`REQUEST_METHOD`), with no exclusions written in the link nor added at run time for that
/// variable (`runtime`): `Some(None)` when the `TX` variable is not set. `None` for other links,
/// whose values are fetched into a list. The CRS asks this of most rules it runs (paranoia
/// levels, anomaly scores, settings, the request line), so it is worth doing without the list.
fn direct_value<'a>(data: &'a TxData, link: &Rule, runtime: &[(RuleSelector, Exclusion)]) -> Option<Option<Value<'a>>> {
    let [target] = link.targets.targets.as_slice() else { return None };
    let v = target.variable;
    // Exclusions of `TX` or of a single variable name only that variable (see `Exclusion::excludes`).
    if !link.targets.exclusions.is_empty() || runtime.iter().any(|(_, e)| e.variable == v) {
        return None;
    }
    if !v.is_collection() {
        // Such a variable always yields one value (see `fetch`), empty when unknown.
        let value = if target.count { Cow::Borrowed(&b"1"[..]) } else { single(data, v).unwrap_or(Cow::Borrowed(b"")) };
        return Some(Some(Value { variable: v, key: Cow::Borrowed(""), value }));
    }
    if v != Variable::Tx {
        return None;
    }
    // Numbered when the engine was built (nearly always): read by slot, no name hashed.
    let entry = match link.tx_slot {
        Some(slot) => data.tx.slot_entry(slot),
        None => data.tx.entry_of(target.selector.as_ref()?.key()?),
    };
    if target.count {
        let count: &'static [u8] = if entry.is_some() { b"1" } else { b"0" };
        return Some(Some(Value { variable: v, key: Cow::Borrowed(""), value: Cow::Borrowed(count) }));
    }
    Some(entry.map(|(k, val)| Value { variable: v, key: Cow::Borrowed(k.as_str()), value: Cow::Borrowed(val.as_slice()) }))
}

impl Transaction {
    /// Run every rule of `phase` (1..=5) unless the engine is off, the transaction already
    /// interrupted (phases 1–4) or an `allow` covers it.
    pub(crate) fn run_phase(&mut self, phase: u8) {
        if self.state.mode == EngineMode::Off || !(1..=5).contains(&phase) {
            return;
        }
        if phase < 5 && (self.state.interruption.is_some() || self.allowed(phase)) {
            return;
        }
        let engine = self.engine.clone();
        self.cache.clear();
        self.cache.fit_summaries(engine.summary_count);
        let mut skip_after: Option<&str> = None;
        let mut skip = 0u32;
        for item in &engine.phases[usize::from(phase - 1)] {
            let rule = match item {
                Item::Marker(name) => {
                    if skip_after == Some(name.as_str()) {
                        skip_after = None;
                    }
                    continue;
                }
                Item::Rule(rule) => rule,
            };
            if skip_after.is_some() {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if self.is_removed(rule) {
                continue;
            }
            if !self.eval_rule(rule, phase) {
                continue;
            }
            if let Some(marker) = &rule.skip_after {
                skip_after = Some(marker);
            }
            skip = rule.skip;
            if self.state.mode == EngineMode::Off {
                return;
            }
            if phase < 5 && (self.state.interruption.is_some() || self.allowed(phase)) {
                return;
            }
        }
    }

    fn allowed(&self, phase: u8) -> bool {
        match self.state.allow {
            Some((AllowScope::All, _)) => phase <= 4,
            Some((AllowScope::Request, _)) => phase <= 2,
            Some((AllowScope::Phase, p)) => p == phase,
            None => false,
        }
    }

    fn is_removed(&self, rule: &Rule) -> bool {
        let s = &self.state;
        (!s.removed_ids.is_empty() && in_ranges(&s.removed_ids, rule.id))
            || (!s.removed_tags.is_empty() && rule.metadata.tags.iter().any(|t| s.removed_tags.iter().any(|r| super::state::same_tag(r, t))))
            || (!s.removed_msgs.is_empty()
                && rule.metadata.msg_raw.as_ref().is_some_and(|m| s.removed_msgs.iter().any(|r| r == m)))
    }

    /// Evaluate a rule with its chain; on a match run its actions. Returns whether it matched.
    fn eval_rule(&mut self, rule: &Rule, phase: u8) -> bool {
        for (name, value) in self.data.matched_vars.drain(..) {
            self.buffers.give(name, value);
        }
        // Field by field: `logdata` keeps its buffer from rule to rule.
        let current = &mut self.data.rule;
        current.id = rule.id;
        current.phase = phase;
        current.severity = rule.metadata.severity.map(|s| s.0);
        current.text = rule.text_index;
        current.logdata.clear();
        for link in rule.links() {
            if !self.eval_link(link, rule) {
                return false;
            }
        }
        self.record_match(rule, phase);
        self.disrupt(rule, phase);
        true
    }

    /// Evaluate one link; whether it matched. The values that matched are appended to
    /// `MATCHED_VARS` (which [`Transaction::record_match`] reports).
    fn eval_link(&mut self, link: &Rule, top: &Rule) -> bool {
        let Some(op) = &link.operator else {
            for action in &link.actions {
                self.run_action(action);
            }
            return true;
        };
        if !link.summaries.is_empty() && !literal_skip::may_match(&mut self.cache, &self.data, &self.engine.literals, link) {
            return false;
        }
        let mut hits = std::mem::take(&mut self.hits);
        {
            let data = &self.data;
            let mut check = ValueCheck {
                link,
                op,
                ctx: EvalContext { data, capture: link.capture, captures: Vec::new() },
                cache: &mut self.cache,
                literals: &self.engine.literals,
                // Values are cached by identity when there is a chain to save, or literals or
                // bytes to find.
                use_cache: !link.multi_match && (link.chain_id != 0 || link.prefilter.is_some() || link.required_bytes.is_some()),
                hits: &mut hits,
                buffers: &mut self.buffers,
            };
            match direct_value(data, link, &self.state.removed_targets) {
                Some(value) => {
                    if let Some(value) = value {
                        check.test(&value);
                    }
                }
                None => {
                    let runtime = self.state.removed_targets_for(top);
                    let excluded = |v: Variable, key: &str| {
                        link.targets.exclusions.iter().any(|e| e.excludes(v, key)) || runtime.iter().any(|e| e.excludes(v, key))
                    };
                    // Each value is tested as it is fetched: no list to fill.
                    let mut visit = Visit(|value: Value<'_>| check.test(&value));
                    for target in &link.targets.targets {
                        fetch(data, target, &excluded, &mut visit);
                    }
                }
            }
        }
        let matched = !hits.is_empty();
        if !matched {
            // Most links: nothing to drain (a drain costs its setup even when empty).
            self.hits = hits;
            return false;
        }
        for hit in hits.drain(..) {
            for (i, v) in &hit.captures {
                match super::tx_names::capture_slot(*i) {
                    Some(slot) => self.data.tx.slot_set(slot, v),
                    None => self.data.tx.set(i.to_string().into(), v.as_slice().into()),
                }
            }
            // Overwritten in place: these buffers keep their capacity from rule to rule.
            self.data.matched_var.clear();
            self.data.matched_var.extend_from_slice(&hit.value);
            self.data.matched_var_name.clear();
            self.data.matched_var_name.push_str(&hit.name);
            self.data.matched_vars.push((hit.name, hit.value));
            // As ModSecurity and Coraza do, non-disruptive actions run for each matching value,
            // right away: CRS relies on it (920450 records every restricted header through
            // `%{tx.0}`; 920420 sets `tx.content_type` for its next link).
            for action in &link.actions {
                self.run_action(action);
            }
        }
        self.hits = hits;
        matched
    }

    /// Report a match: the rule's descriptive fields are shared with the rule, not copied.
    fn record_match(&mut self, rule: &Rule, phase: u8) {
        let meta = &rule.metadata;
        let logdata = meta.logdata.as_ref().map(|l| expand_string(&self.data, l)).unwrap_or_default();
        let msg = meta.msg.as_ref().map(|m| expand_string(&self.data, m)).unwrap_or_default();
        self.data.rule.logdata.clear();
        self.data.rule.logdata.push_str(&logdata);
        if let Some(sev) = meta.severity {
            if rule.log {
                let current = self.data.highest_severity.unwrap_or(u8::MAX);
                self.data.highest_severity = Some(current.min(sev.0));
            }
        }
        // The next rule clears MATCHED_VARS before reading it: the values move into the report
        // instead of being copied, unless a redirect URL (expanded next) may still read them.
        // Drained, not taken: the list keeps its room for the next rule's matches.
        let mut matched = self.buffers.list();
        if matches!(rule.disruptive, Disruptive::Redirect(_)) {
            matched.extend(self.data.matched_vars.iter().map(|(name, value)| matched_value(name.clone(), value.clone())));
        } else {
            matched.extend(self.data.matched_vars.drain(..).map(|(name, value)| matched_value(name, value)));
        }
        self.state.matched_rules.push(MatchedRule {
            id: rule.id,
            phase,
            msg,
            data: if logdata.len() <= MAX_LOGGED_VALUE { logdata } else { logdata.chars().take(MAX_LOGGED_VALUE).collect() },
            severity: meta.severity.map(|s| s.0),
            tags: rule.text.tags.clone(),
            ver: rule.text.ver.clone(),
            rev: rule.text.rev.clone(),
            maturity: meta.maturity,
            accuracy: meta.accuracy,
            log: rule.log,
            disruptive: rule.disruptive.interrupts(),
            matched,
            file: rule.text.file.clone(),
            line: rule.location.line,
        });
    }

    fn disrupt(&mut self, rule: &Rule, phase: u8) {
        if self.state.mode != EngineMode::On {
            return;
        }
        let intervention = |status: u16, redirect: Option<String>, drop: bool| Intervention {
            status,
            redirect,
            drop,
            rule_id: rule.id,
            phase,
        };
        match &rule.disruptive {
            Disruptive::Pass => {}
            Disruptive::Deny => self.state.interruption = Some(intervention(rule.status.unwrap_or(403), None, false)),
            Disruptive::Drop => self.state.interruption = Some(intervention(rule.status.unwrap_or(403), None, true)),
            Disruptive::Redirect(url) => {
                let url = expand_string(&self.data, url);
                let status = rule.status.filter(|s| (300..400).contains(s)).unwrap_or(302);
                self.state.interruption = Some(intervention(status, Some(url), false));
            }
            Disruptive::Allow(scope) => self.state.allow = Some((*scope, phase)),
        }
    }
}

/// A matched value for the report: at most [`MAX_LOGGED_VALUE`] bytes, lossy UTF-8 (copied
/// only when not valid UTF-8).
fn matched_value(name: String, mut value: Vec<u8>) -> MatchedValue {
    value.truncate(MAX_LOGGED_VALUE);
    let value = String::from_utf8(value).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    MatchedValue { name, value }
}

/// Run a link's transformation chain; `None` when nothing changed. With the bytes `value`
/// holds, the steps that cannot change it are not run while it is still unchanged.
pub(super) fn transform(link: &Rule, value: &[u8], held: Option<&ByteSet>) -> Option<Vec<u8>> {
    let mut current: Option<Vec<u8>> = None;
    for t in &link.transforms {
        let no_op = current.is_none() && held.zip(t.unchanged_without.as_ref()).is_some_and(|(held, needs)| !intersects(held, needs));
        if no_op {
            continue;
        }
        if let Some(v) = changed(t.function, current.as_deref().unwrap_or(value)) {
            current = Some(v);
        }
    }
    current
}

/// One transformation; `None` when it left `input` as it was. A transformation may return a
/// sub-slice of its input (`t:trim`), which counts as a change.
fn changed(function: crate::transform::TransformFn, input: &[u8]) -> Option<Vec<u8>> {
    match function(input) {
        Cow::Owned(v) => Some(v),
        Cow::Borrowed(b) if b.len() != input.len() || b.as_ptr() != input.as_ptr() => Some(b.to_vec()),
        Cow::Borrowed(_) => None,
    }
}

/// Variables whose values cannot change within a phase: rules write the excluded ones, so
/// their bytes may move or change between two rules (the cache keys values by address).
fn cacheable(v: Variable) -> bool {
    !matches!(
        v,
        Variable::Tx
            | Variable::Ip
            | Variable::Global
            | Variable::Session
            | Variable::User
            | Variable::Resource
            | Variable::MatchedVar
            | Variable::MatchedVars
            | Variable::MatchedVarName
            | Variable::MatchedVarsNames
            | Variable::Rule
    )
}

fn test(op: &crate::rule::RuleOperator, ctx: &mut EvalContext<'_>, input: &[u8]) -> bool {
    op.operator.evaluate(ctx, input) != op.negated
}
