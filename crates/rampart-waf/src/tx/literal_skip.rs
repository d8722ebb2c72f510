//! Skipping a rule without looking at its values one by one.
//!
//! Most CRS rules inspect the same request variables (`ARGS`, `ARGS_NAMES`, `REQUEST_COOKIES`,
//! …) through one of a few dozen transformation chains, with an operator that needs one of a
//! few literals ([`crate::prefilter`]). Per value, the transaction would fetch it, look its
//! transformed form up in the cache and read one bit; for a hundred rules and a dozen values
//! that bookkeeping costs more than the search itself. Instead, the first rule to ask about a
//! variable under a chain gets the union of the literal groups of all that variable's values
//! (every key, before selectors and exclusions), kept for the phase beside the cache; a rule
//! none of whose variables has its group cannot match, and is skipped whole.
//!
//! Sound because a rule's values are a subset of its variables' values (selectors and
//! exclusions only remove), the union is over the same transformed bytes the per-value check
//! reads, and only operators that cannot match without a literal are asked (not negated, no
//! `multiMatch`, which also tests the untransformed value). The union is only taken of
//! request data that rules cannot write, and is forgotten with the cache (every phase, and
//! whenever an action writes request data).

use std::borrow::Cow;

use super::cache::TransformCache;
use super::data::TxData;
use crate::prefilter::LiteralIndex;
use crate::rule::Rule;
use crate::vars::fetch::{fetch, Value};
use crate::vars::{Target, Variable};

/// Whether a rule link can be decided by [`may_match`]: a prefiltered, non-negated operator
/// without `multiMatch`, over whole request variables only (no `&VAR` counts). Set when the
/// engine is built.
pub(crate) fn applies(link: &Rule) -> bool {
    let operator_fits = link.operator.as_ref().is_some_and(|op| !op.negated) && link.prefilter.is_some() && !link.multi_match;
    operator_fits
        && !link.targets.targets.is_empty()
        && link.targets.targets.iter().all(|t| !t.count && summarised(t.variable))
}

/// Variables whose values are bytes of the request (or response) data, which no rule action
/// can change within a phase except those that clear the cache.
fn summarised(v: Variable) -> bool {
    use Variable::*;
    matches!(
        v,
        Args | ArgsGet
            | ArgsPost
            | ArgsNames
            | ArgsGetNames
            | ArgsPostNames
            | RequestHeaders
            | RequestHeadersNames
            | RequestCookies
            | RequestCookiesNames
            | RequestFilename
            | RequestBasename
            | RequestUri
            | RequestUriRaw
            | RequestLine
            | RequestMethod
            | RequestProtocol
            | QueryString
            | RequestBody
            | Files
            | FilesNames
            | MultipartFilename
            | MultipartName
            | MultipartPartHeaders
            | Xml
            | ResponseHeaders
            | ResponseHeadersNames
            | ResponseBody
            | PathInfo
    )
}

/// False when no value of any of `link`'s variables, transformed by its chain, holds one of
/// the literals of its operator's group: the link surely does not match. Only for links
/// [`applies`] accepts.
pub(crate) fn may_match(
    cache: &mut TransformCache,
    data: &TxData,
    literals: &LiteralIndex,
    link: &Rule,
    scratch: &mut Vec<Value<'static>>,
) -> bool {
    let Some(group) = link.prefilter else { return true };
    link.targets.targets.iter().any(|t| {
        let at = match cache.summary(t.variable as u32, link.chain_id) {
            Some(at) => at,
            None => summarise(cache, data, literals, link, t.variable, scratch),
        };
        cache.has(at, group, literals)
    })
}

/// Compute the group set of every value of `variable` under `link`'s chain.
fn summarise(
    cache: &mut TransformCache,
    data: &TxData,
    literals: &LiteralIndex,
    link: &Rule,
    variable: Variable,
    scratch: &mut Vec<Value<'static>>,
) -> usize {
    let to = cache.new_summary(variable as u32, link.chain_id, literals);
    let mut values: Vec<Value<'_>> = super::eval::reuse(std::mem::take(scratch));
    let every_key = Target { variable, selector: None, count: false };
    fetch(data, &every_key, &|_, _| false, &mut values);
    if variable == Variable::Xml {
        // `XML:/*` reads the text, `XML://@*` the attributes: the union covers both.
        for (_, v) in &data.xml_attributes.entries {
            values.push(Value { variable, key: Cow::Borrowed(""), value: Cow::Borrowed(v.as_slice()) });
        }
    }
    for value in &values {
        let entry = match value.value {
            Cow::Borrowed(bytes) => cache.get_or_insert(link.chain_id, bytes, |v, held| super::eval::transform(link, v, held)),
            Cow::Owned(_) => None,
        };
        match entry.and_then(|id| cache.scanned(id, literals, &value.value)) {
            Some(from) => cache.add_to_summary(from, to, literals),
            None => {
                // Not cached (too long, or the cache is full): transformed and scanned here.
                let transformed = super::eval::transform(link, &value.value, None);
                cache.scan_into(transformed.as_deref().unwrap_or(&value.value), to, literals);
            }
        }
    }
    *scratch = super::eval::reuse(values);
    to
}
