//! Required literals of a regex: a set of byte strings such that every match of the pattern
//! contains at least one of them. A rule whose set has no member in the (transformed) value
//! cannot match it, so `@rx` answers "no" without running the regex — most CRS values hold
//! none of a rule's keywords, and one Aho-Corasick pass is far cheaper than the regex.
//!
//! Soundness is the whole point, so the walk over the pattern's syntax tree is conservative:
//! * a literal requires itself; a small byte class (`[Ss]`, what `(?i)s` becomes) requires one
//!   of its bytes;
//! * a concatenation requires what any one of its parts requires (we pick the most selective),
//!   and adjacent parts that match one of a few exact strings are joined into longer literals;
//! * an alternation requires the union of its branches' sets, and nothing if one branch
//!   requires nothing;
//! * a repetition requires what its body requires when it must run at least once; an optional
//!   part, an empty match or a large class requires nothing.
//!
//! Literals are lower-cased and meant to be searched ASCII-case-insensitively: that only widens
//! what counts as present, so it stays sound for `(?i)` and case-sensitive patterns alike.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Most strings an "exact" set may hold before it is given up (cross products grow fast).
const MAX_EXACT: usize = 64;
/// Most bytes a class may hold and still count as a set of one-byte literals.
const MAX_CLASS: usize = 4;
/// Most literals a required set may hold (a larger set filters little and costs a lot).
const MAX_REQUIRED: usize = 256;

/// What a sub-pattern tells about its matches.
#[derive(Debug, Clone, Default)]
struct Facts {
    /// Every match is exactly one of these strings (lower-cased).
    exact: Option<Vec<Vec<u8>>>,
    /// Every match contains one of these strings (lower-cased).
    required: Option<Vec<Vec<u8>>>,
}

impl Facts {
    fn exact(set: Vec<Vec<u8>>) -> Facts {
        Facts { required: Some(set.clone()), exact: Some(set) }
    }

    /// The best set this sub-pattern offers to a caller that needs "contains one of".
    fn best(&self) -> Option<&Vec<Vec<u8>>> {
        match (&self.exact, &self.required) {
            (Some(e), Some(r)) => Some(if score(e) >= score(r) { e } else { r }),
            (Some(e), None) => Some(e),
            (None, r) => r.as_ref(),
        }
    }
}

/// A pattern's required literals, ready to search for.
#[derive(Clone)]
pub struct RequiredLiterals {
    matcher: AhoCorasick,
    /// The literal, when there is only one: searched for in lower-case input.
    single: Option<memchr::memmem::Finder<'static>>,
    /// The literals the matcher searches for (lower-case).
    literals: Vec<Vec<u8>>,
}

impl std::fmt::Debug for RequiredLiterals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RequiredLiterals({})", self.matcher.patterns_len())
    }
}

impl RequiredLiterals {
    /// The matcher for `pattern` (as [`super::rx::compile`] gets it, braced escapes already
    /// rewritten), `None` when the pattern requires no useful literal.
    pub(crate) fn new(pattern: &str) -> Option<RequiredLiterals> {
        let literals = required_literals(pattern)?;
        // A lone letter or digit is in nearly every value: looking for it first would only
        // add a search in front of the regex (CRS shell-command patterns require `[a-z]`).
        if literals.iter().any(|l| matches!(l.as_slice(), [b] if b.is_ascii_alphanumeric())) {
            return None;
        }
        Self::from_literals(literals)
    }

    /// The same for a pattern compiled with the `regex` crate's defaults (Unicode on, no
    /// multi-line), as key selectors (`ARGS:/^id_/`) are. Under Unicode case folding some
    /// ASCII letters match non-ASCII characters (`k` and the Kelvin sign); such letters
    /// simply end a literal, which keeps the set sound.
    pub(crate) fn new_unicode(pattern: &str) -> Option<RequiredLiterals> {
        let hir = regex_syntax::ParserBuilder::new().build().parse(pattern).ok()?;
        Self::from_literals(usable(&facts(&hir))?)
    }

    fn from_literals(literals: Vec<Vec<u8>>) -> Option<RequiredLiterals> {
        // Only `is_match` is asked, which any match kind answers alike; leftmost-first lets
        // the automaton stop at the first literal (and is measurably faster than standard).
        let matcher = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&literals)
            .ok()?;
        let single = match literals.as_slice() {
            [only] => Some(memchr::memmem::Finder::new(only).into_owned()),
            _ => None,
        };
        Some(RequiredLiterals { matcher, single, literals })
    }

    /// The literals (lower-case, to be searched ASCII-case-insensitively).
    pub(crate) fn literals(&self) -> &[Vec<u8>] {
        &self.literals
    }

    /// False when `input` holds none of the literals, so the pattern cannot match it.
    pub fn may_match(&self, input: &[u8]) -> bool {
        self.matcher.is_match(input)
    }

    /// [`RequiredLiterals::may_match`] for input with no upper-case ASCII letter (so a
    /// single literal is a plain substring search, faster than the automaton on short keys).
    pub fn may_match_lowercase(&self, input: &[u8]) -> bool {
        match &self.single {
            Some(finder) => finder.find(input).is_some(),
            None => self.matcher.is_match(input),
        }
    }
}

/// The required literals of `pattern` compiled with ModSecurity's flags (the ones
/// [`super::rx::compile`] uses), or `None` when no useful set exists or the pattern does not
/// parse. Every literal is non-empty and lower-case.
pub(crate) fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    usable(&facts(&parse_as_compiled(pattern)?))
}

/// `pattern`'s syntax tree, parsed with the flags [`super::rx::compile`] compiles it with
/// (bytes, not Unicode; `^`/`$` per line; `.` matching a newline), for the prefilters that
/// read what every match must contain.
pub(crate) fn parse_as_compiled(pattern: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .multi_line(true)
        .dot_matches_new_line(true)
        .build()
        .parse(pattern)
        .ok()
}

/// The best set of `facts`, sorted, if it is worth searching for.
fn usable(facts: &Facts) -> Option<Vec<Vec<u8>>> {
    let mut set = facts.best()?.clone();
    if set.is_empty() || set.iter().any(Vec::is_empty) || set.len() > MAX_REQUIRED {
        return None;
    }
    set.sort();
    set.dedup();
    Some(set)
}

/// How selective a set is: longer shortest member first, then fewer members. `None` members
/// (the empty string) make a set worthless.
fn score(set: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
    (shortest, std::cmp::Reverse(set.len()))
}

fn facts(hir: &Hir) -> Facts {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Facts::exact(vec![Vec::new()]),
        HirKind::Literal(lit) => Facts::exact(vec![lit.0.to_ascii_lowercase()]),
        HirKind::Class(class) => match class_bytes(class) {
            Some(bytes) => Facts::exact(bytes.into_iter().map(|b| vec![b]).collect()),
            None => Facts::default(),
        },
        HirKind::Capture(cap) => facts(&cap.sub),
        HirKind::Repetition(rep) => {
            let sub = facts(&rep.sub);
            if rep.min == 0 {
                return Facts::default();
            }
            let exact = if rep.min == 1 && rep.max == Some(1) { sub.exact.clone() } else { None };
            Facts { exact, required: sub.best().cloned() }
        }
        HirKind::Concat(parts) => concat(parts),
        HirKind::Alternation(branches) => alternation(branches),
    }
}

/// The lower-cased bytes of a small class, `None` for a large one.
fn class_bytes(class: &Class) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut push_range = |start: u32, end: u32| -> Option<()> {
        if end.saturating_sub(start) >= MAX_CLASS as u32 * 2 || end > 0xff {
            return None;
        }
        for c in start..=end {
            let b = u8::try_from(c).ok()?.to_ascii_lowercase();
            if !out.contains(&b) {
                out.push(b);
            }
            if out.len() > MAX_CLASS {
                return None;
            }
        }
        Some(())
    };
    match class {
        Class::Bytes(c) => {
            for r in c.ranges() {
                push_range(u32::from(r.start()), u32::from(r.end()))?;
            }
        }
        Class::Unicode(c) => {
            for r in c.ranges() {
                push_range(u32::from(r.start()), u32::from(r.end()))?;
            }
        }
    }
    Some(out)
}

fn concat(parts: &[Hir]) -> Facts {
    let all: Vec<Facts> = parts.iter().map(facts).collect();
    // Exact sets of runs of adjacent parts, joined; a run ends at a part without an exact set
    // or when the product would grow too large.
    let mut candidates: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut run: Option<Vec<Vec<u8>>> = None;
    let mut whole_exact = true;
    for f in &all {
        match &f.exact {
            Some(e) => {
                run = match run.take() {
                    None => Some(e.clone()),
                    Some(r) => match product(&r, e) {
                        Some(p) => Some(p),
                        None => {
                            whole_exact = false;
                            candidates.push(r);
                            Some(e.clone())
                        }
                    },
                };
            }
            None => {
                whole_exact = false;
                if let Some(r) = run.take() {
                    candidates.push(r);
                }
            }
        }
        if let Some(r) = &f.required {
            candidates.push(r.clone());
        }
    }
    let exact = if whole_exact { run.clone() } else { None };
    if let Some(r) = run {
        candidates.push(r);
    }
    let required = candidates.into_iter().max_by_key(|c| score(c));
    Facts { exact, required }
}

fn product(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len().saturating_mul(b.len()) > MAX_EXACT {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn alternation(branches: &[Hir]) -> Facts {
    let all: Vec<Facts> = branches.iter().map(facts).collect();
    let mut exact: Option<Vec<Vec<u8>>> = Some(Vec::new());
    let mut required: Option<Vec<Vec<u8>>> = Some(Vec::new());
    for f in &all {
        exact = match (exact, &f.exact) {
            (Some(mut acc), Some(e)) if acc.len() + e.len() <= MAX_EXACT => {
                acc.extend(e.iter().cloned());
                Some(acc)
            }
            _ => None,
        };
        required = match (required, f.best()) {
            (Some(mut acc), Some(r)) if acc.len() + r.len() <= MAX_REQUIRED => {
                acc.extend(r.iter().cloned());
                Some(acc)
            }
            _ => None,
        };
    }
    for set in [&mut exact, &mut required].into_iter().flatten() {
        set.sort();
        set.dedup();
    }
    Facts { exact, required }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p).map(|s| s.into_iter().map(|l| String::from_utf8_lossy(&l).into_owned()).collect())
    }

    #[test]
    fn literals_alternations_and_case() {
        let l = lits("(?i)union\\s+select").unwrap_or_default();
        assert!(l == ["select"] || l == ["union"], "{l:?}");
        assert_eq!(lits("(?:abc|Def)x"), Some(vec!["abcx".into(), "defx".into()]));
        assert_eq!(lits("<script"), Some(vec!["<script".into()]));
    }

    #[test]
    fn nothing_required() {
        for p in ["a?", "a*b?", "(?:abc|)", "[a-z]+", ".", "^$", "\\d+", "(?:ab|[^x])"] {
            assert_eq!(lits(p), None, "{p}");
        }
    }

    #[test]
    fn repetition_keeps_its_body() {
        assert_eq!(lits("(?:ab)+c?"), Some(vec!["ab".into()]));
        assert_eq!(lits("x{2,}"), Some(vec!["x".into()]));
    }

    #[test]
    fn unicode_folding_ends_literals() {
        let found = |p: &str, input: &[u8]| RequiredLiterals::new_unicode(p).map(|r| r.may_match(input));
        // `k` also matches the Kelvin sign under Unicode `(?i)`: the literal avoids it.
        assert_eq!(found("(?i)^_pk_ref", "_P\u{212a}_REF".as_bytes()), Some(true));
        assert_eq!(found("(?i)^_pk_ref", b"session"), Some(false));
        assert_eq!(found("(?i)^_ga(?:_\\w+)?$", b"_GA"), Some(true));
    }
}
