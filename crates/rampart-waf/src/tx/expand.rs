//! Macro expansion (`%{tx.x}`, `%{MATCHED_VAR}`, `%{REQUEST_HEADERS.host}`) and the
//! [`OperatorContext`] operators see while a rule runs.

use std::borrow::Cow;

use super::data::TxData;
use crate::operator::OperatorContext;
use crate::parser::macros::{MacroText, Part};
use crate::vars::fetch::{fetch, Value};
use crate::vars::{Selector, Target, Variable};

/// Expand `text` against the transaction's values. Unknown variables expand to nothing.
pub fn expand(data: &TxData, text: &MacroText) -> Vec<u8> {
    // Room for the usual result (a score, a header name) so that it is allocated once.
    let mut out = Vec::with_capacity(32);
    for part in &text.parts {
        match part {
            Part::Literal(l) => out.extend_from_slice(l.as_bytes()),
            Part::Variable { collection, key } => {
                if let Some(v) = resolve(data, collection, key.as_deref()) {
                    out.extend_from_slice(&v);
                }
            }
            Part::TxVariable { slot, .. } => {
                if let Some(v) = data.tx.slot_value(*slot) {
                    out.extend_from_slice(v);
                }
            }
        }
    }
    out
}

/// Expand to a string (lossy for non-UTF-8 bytes). Valid UTF-8, nearly always, keeps the
/// expansion's buffer: no second pass over the bytes, no copy.
pub fn expand_string(data: &TxData, text: &MacroText) -> String {
    if let [Part::Literal(l)] = text.parts.as_slice() {
        return l.clone();
    }
    String::from_utf8(expand(data, text)).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The first value of `collection[.key]` (`key` lower-cased, or a `/regex/`, as
/// [`MacroText::parse`] leaves it).
pub fn resolve<'a>(data: &'a TxData, collection: &str, key: Option<&str>) -> Option<Cow<'a, [u8]>> {
    // `TX` first: nearly every macro the CRS writes is `%{tx.…}` (collections are upper-cased
    // when parsed).
    let variable = if collection == "TX" { Variable::Tx } else { Variable::from_name(collection)? };
    // `%{TX:/regex/}`: the first value whose key matches (rare; compiled on use).
    if let Some(re) = key.and_then(|k| k.strip_prefix('/')).and_then(|k| k.strip_suffix('/')) {
        let selector = Selector::regex(re).ok()?;
        let target = Target { variable, selector: Some(selector), count: false };
        let mut out: Vec<Value<'a>> = Vec::new();
        fetch(data, &target, &|_, _| false, &mut out);
        return out.into_iter().next().map(|v| v.value);
    }
    if variable == Variable::Tx {
        // The key was lower-cased when the macro was parsed, as `TX` stores its names.
        return data.tx.get(key?).map(|v| Cow::Borrowed(v.as_slice()));
    }
    let target = Target { variable, selector: key.map(|k| Selector::Key(k.to_ascii_lowercase())), count: false };
    let mut out: Vec<Value<'a>> = Vec::new();
    fetch(data, &target, &|_, _| false, &mut out);
    out.into_iter().next().map(|v| v.value)
}

/// What an operator sees: the transaction's values (read-only) and a capture buffer that the
/// rule commits to `TX.0`–`TX.9` after the operator ran.
pub struct EvalContext<'a> {
    pub(crate) data: &'a TxData,
    pub(crate) capture: bool,
    pub(crate) captures: Vec<(usize, Vec<u8>)>,
}

impl OperatorContext for EvalContext<'_> {
    fn expand<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !text.contains("%{") {
            return Cow::Borrowed(text);
        }
        Cow::Owned(expand_string(self.data, &MacroText::parse(text)))
    }

    fn expand_parsed<'t>(&self, parsed: &'t MacroText, _raw: &'t str) -> Cow<'t, str> {
        Cow::Owned(expand_string(self.data, parsed))
    }

    fn capturing(&self) -> bool {
        self.capture
    }

    fn set_capture(&mut self, index: usize, value: &[u8]) {
        if index <= 9 {
            self.captures.retain(|(i, _)| *i != index);
            self.captures.push((index, value.to_vec()));
        }
    }
}
