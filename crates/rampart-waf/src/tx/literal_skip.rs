//! Skipping a rule without looking at its values one by one.
//!
//! Most CRS rules inspect the same request variables (`ARGS`, `ARGS_NAMES`, `REQUEST_COOKIES`,
//! …) through one of a few dozen transformation chains, with an operator that needs one of a
//! few literals ([`crate::prefilter`]) or one of a few bytes
//! ([`crate::operator::Operator::required_bytes`]). Per value, the transaction would fetch
//! it, look its transformed form up in the cache and read one bit; for a hundred rules and a
//! dozen values that bookkeeping costs more than the search itself. Instead, the first rule to
//! ask about a variable under a chain gets a bound on the bytes all that variable's values can
//! hold once transformed (the bytes of the untransformed values carried through the chain, see
//! [`crate::transform::bytes_after`]: no value is transformed for it), and, if it asks for
//! literals, the union of the literal groups of the transformed values (every key, before
//! selectors and exclusions), kept for the phase beside the cache; a rule none of whose
//! variables may hold one of its bytes, or has its group, cannot match, and is skipped whole.
//!
//! Sound because a rule's values are a subset of its variables' values (selectors and
//! exclusions only remove), the bound holds every byte of the transformed values, the union is
//! over the same transformed bytes the per-value check reads, and only operators that cannot
//! match without a literal or a byte are asked (not negated; with `multiMatch`, which also tests
//! the value before and between transformations, only the bytes every step may hold). Both are
//! only taken of request data that rules cannot write, and are forgotten with the cache (every
//! phase, and whenever an action writes request data).

use std::borrow::Cow;
use std::collections::HashMap;

use super::cache::TransformCache;
use super::data::TxData;
use crate::prefilter::LiteralIndex;
use crate::rule::Rule;
use crate::transform::{byte_set, intersects, ByteSet};
use crate::vars::fetch::{fetch, Value, Visit};
use crate::vars::{Target, Variable};

/// Whether a rule link can be decided by [`may_match`]: a prefiltered (literals or bytes),
/// non-negated operator (with `multiMatch`, which also tests the values before and between
/// transformations, only by bytes), over whole request variables only (no `&VAR` counts).
fn applies(link: &Rule) -> bool {
    let prefiltered = if link.multi_match { link.required_bytes.is_some() } else { link.prefilter.is_some() || link.required_bytes.is_some() };
    let operator_fits = link.operator.as_ref().is_some_and(|op| !op.negated) && prefiltered;
    operator_fits
        && !link.targets.targets.is_empty()
        && link.targets.targets.iter().all(|t| !t.count && place(t.variable).is_some())
}

/// One of a link's variables as [`may_match`] looks it up, resolved when the engine is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryRef {
    /// The number of what the variable holds under the link's chain: equal for every link with
    /// the same variable and chain, dense from 0 (the cache's summaries are a table by it).
    pub summary: u32,
    /// The variable's place among summarised variables (the cache's untransformed bytes).
    pub place: u8,
    /// The variable.
    pub variable: Variable,
}

/// The summary numbers handed out so far, by variable place and chain.
#[derive(Debug, Default)]
pub(crate) struct SummaryNumbers(HashMap<(u8, u32), u32>);

impl SummaryNumbers {
    /// Give `link` its [`SummaryRef`]s if [`applies`] accepts it (else none: it is not skipped
    /// whole). Its prefilter must be settled.
    pub(crate) fn assign(&mut self, link: &mut Rule) {
        if !applies(link) {
            link.summaries = Box::default();
            return;
        }
        let chain = link.chain_id;
        let numbers = &mut self.0;
        link.summaries = link
            .targets
            .targets
            .iter()
            .filter_map(|t| {
                let place = place(t.variable)?;
                let next = u32::try_from(numbers.len()).ok()?;
                let summary = *numbers.entry((place, chain)).or_insert(next);
                Some(SummaryRef { summary, place, variable: t.variable })
            })
            .collect();
    }

    /// How many summaries were numbered.
    pub(crate) fn count(&self) -> usize {
        self.0.len()
    }
}

/// A summarised variable's place among them (below [`super::cache::RAW_PLACES`]): variables whose values are
/// bytes of the request (or response) data, which no rule action can change within a phase
/// except those that clear the cache.
fn place(v: Variable) -> Option<u8> {
    use Variable::*;
    Some(match v {
        Args => 0,
        ArgsGet => 1,
        ArgsPost => 2,
        ArgsNames => 3,
        ArgsGetNames => 4,
        ArgsPostNames => 5,
        RequestHeaders => 6,
        RequestHeadersNames => 7,
        RequestCookies => 8,
        RequestCookiesNames => 9,
        RequestFilename => 10,
        RequestBasename => 11,
        RequestUri => 12,
        RequestUriRaw => 13,
        RequestLine => 14,
        RequestMethod => 15,
        RequestProtocol => 16,
        QueryString => 17,
        RequestBody => 18,
        Files => 19,
        FilesNames => 20,
        MultipartFilename => 21,
        MultipartName => 22,
        MultipartPartHeaders => 23,
        Xml => 24,
        ResponseHeaders => 25,
        ResponseHeadersNames => 26,
        ResponseBody => 27,
        PathInfo => 28,
        _ => return None,
    })
}

/// False when no value of any of `link`'s variables, transformed by its chain, can hold one of
/// its operator's required bytes, or holds one of the literals of its operator's group: the
/// link surely does not match. Only for links with [`SummaryRef`]s (see [`number_summaries`]).
pub(crate) fn may_match(
    cache: &mut TransformCache,
    data: &TxData,
    literals: &LiteralIndex,
    link: &Rule,
) -> bool {
    link.summaries.iter().any(|at| {
        // A collection without values gives the link nothing to match, whatever its chain
        // would make of a value: no need to ask its summary (cookies, XML and files, in most
        // requests, are on the lists of most CRS rules).
        if has_no_values(data, at.variable) {
            return false;
        }
        if link.multi_match {
            // Every step of the chain is tested: only the bound of each step can tell.
            let raw = raw_bytes(cache, data, at);
            let mut step = raw;
            let every_step = link.transforms.iter().fold(raw, |union, t| {
                step = t.bytes.apply(&step);
                union_of(union, step)
            });
            return link.required_bytes.is_none_or(|needed| intersects(&every_step, &needed));
        }
        // The bytes first: far cheaper than the literals (no value is transformed), and often
        // enough.
        if let Some(needed) = link.required_bytes {
            let bound = match cache.summary_bound(at.summary) {
                Some(bound) => bound,
                None => {
                    let raw = raw_bytes(cache, data, at);
                    let bound = link.transforms.iter().fold(raw, |held, t| t.bytes.apply(&held));
                    cache.set_summary_bound(at.summary, bound);
                    bound
                }
            };
            if !intersects(&bound, &needed) {
                return false;
            }
        }
        let Some(group) = link.prefilter else { return true };
        let bits = match cache.summary_bits(at.summary) {
            Some(bits) => bits,
            None => summarise(cache, data, literals, link, at),
        };
        cache.has(bits, group, literals)
    })
}

/// Whether `variable` is a collection with no values at all (as `fetch` reads it: no key of it
/// selected, whatever the selector). Single variables always have a value.
fn has_no_values(data: &TxData, variable: Variable) -> bool {
    use Variable::*;
    match variable {
        Args | ArgsNames => data.args_get.is_empty() && data.args_post.is_empty(),
        ArgsGet | ArgsGetNames => data.args_get.is_empty(),
        ArgsPost | ArgsPostNames => data.args_post.is_empty(),
        RequestHeaders | RequestHeadersNames => data.request_headers.is_empty(),
        RequestCookies | RequestCookiesNames => data.request_cookies.is_empty(),
        ResponseHeaders | ResponseHeadersNames => data.response_headers.is_empty(),
        Files | FilesNames => data.files.is_empty(),
        MultipartFilename => data.multipart_filename.is_empty(),
        MultipartName => data.multipart_name.is_empty(),
        MultipartPartHeaders => data.multipart_part_headers.is_empty(),
        Xml => data.xml_text.is_none() && data.xml_attributes.is_empty(),
        _ => false,
    }
}

fn union_of(a: ByteSet, b: ByteSet) -> ByteSet {
    [a[0] | b[0], a[1] | b[1], a[2] | b[2], a[3] | b[3]]
}

/// The bytes of every value of a variable, untransformed, computed once per phase.
fn raw_bytes(cache: &mut TransformCache, data: &TxData, at: &SummaryRef) -> ByteSet {
    let place = usize::from(at.place);
    if let Some(held) = cache.raw_bytes(place) {
        return held;
    }
    let mut held = [0u64; 4];
    every_value(data, at.variable, &mut |value| {
        for (h, b) in held.iter_mut().zip(byte_set(value)) {
            *h |= b;
        }
    });
    cache.set_raw_bytes(place, held);
    held
}

/// Every value of `variable`, whatever its key (for `XML`, the text and the attributes).
fn every_value<'a>(data: &'a TxData, variable: Variable, f: &mut dyn FnMut(&Cow<'a, [u8]>)) {
    let every_key = Target { variable, selector: None, count: false };
    fetch(data, &every_key, &|_, _| false, &mut Visit(|value: Value<'a>| f(&value.value)));
    if variable == Variable::Xml {
        // `XML:/*` reads the text, `XML://@*` the attributes: the union covers both.
        for (_, v) in &data.xml_attributes.entries {
            f(&Cow::Borrowed(v.as_slice()));
        }
    }
}

/// Compute the group set of every value of a variable under `link`'s chain, record it in the
/// cache's summary, and return its offset.
fn summarise(cache: &mut TransformCache, data: &TxData, literals: &LiteralIndex, link: &Rule, at: &SummaryRef) -> usize {
    let to = cache.new_summary(literals);
    every_value(data, at.variable, &mut |value| {
        let entry = match value {
            Cow::Borrowed(bytes) => cache.get_or_insert(link.chain_id, bytes, |v, held| super::eval::transform(link, v, held)),
            Cow::Owned(_) => None,
        };
        match entry.and_then(|id| cache.scanned(id, literals, value)) {
            Some(from) => cache.add_to_summary(from, to, literals),
            None => {
                // Not cached (too long, or the cache is full): transformed and scanned here.
                let transformed = super::eval::transform(link, value, None);
                cache.scan_into(transformed.as_deref().unwrap_or(value), to, literals);
            }
        }
    });
    cache.set_summary_bits(at.summary, to);
    to
}
