//! `@rx`: regular expression match, the workhorse of the CRS.
//! `SecRule ARGS "@rx (?i)union\s+select" "id:1,capture,setvar:tx.m=%{tx.0}"`.
//!
//! Patterns run on the `regex` crate (finite automata, linear time in the input: no
//! catastrophic backtracking however hostile the request). They are compiled the way
//! ModSecurity compiles PCRE: dot matches newline, `^`/`$` match at line breaks, and byte
//! semantics (no UTF-8 mode: `.` is any byte, `\w` and `(?i)` are ASCII-only). PCRE features
//! a linear-time engine cannot provide — backreferences, lookaround, possessive quantifiers,
//! atomic groups — are refused with [`OperatorError::InvalidArgument`] naming the feature; the
//! CRS v4 patterns are written to avoid them (they are RE2-compatible).
//!
//! With the `capture` action, groups 0..=9 of the first match go to `TX.0`..`TX.9`.

use std::fmt;
use std::sync::{Arc, Mutex};

use regex::bytes::{Regex, RegexBuilder};

use super::param::Param;
use super::required_literals::RequiredLiterals;
use super::{Operator, OperatorContext, OperatorError};

/// Compile a SecLang pattern for `operator` with ModSecurity's flags.
pub(crate) fn compile(operator: &str, pattern: &str) -> Result<Regex, OperatorError> {
    let invalid = |why: String| OperatorError::InvalidArgument { name: operator.to_string(), why };
    if let Some(feature) = unsupported_pcre_feature(pattern) {
        return Err(invalid(format!("{feature} is a PCRE feature the linear-time regex engine does not support")));
    }
    RegexBuilder::new(&byte_escapes(pattern))
        .dot_matches_new_line(true)
        .multi_line(true)
        .unicode(false)
        .size_limit(64 << 20)
        .dfa_size_limit(16 << 20)
        .build()
        .map_err(|e| invalid(e.to_string()))
}

/// Rewrite PCRE's braced hex escapes for single bytes (`\x{bc}`) as `\xbc`. Without UTF mode
/// PCRE reads both as the byte 0xBC, and the CRS relies on that (rules 933, 934, 941 match raw
/// UTF-8 bytes and 7-bit-stripped `<`); the `regex` crate, in byte mode, accepts only the
/// two-digit form. Larger values (`\x{100}`) are left for the compiler to reject.
fn byte_escapes(pattern: &str) -> std::borrow::Cow<'_, str> {
    if !pattern.contains("\\x{") {
        return std::borrow::Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let braced = after.strip_prefix("x{").and_then(|inner| {
            let close = inner.find('}')?;
            let digits = &inner[..close];
            let value = u8::from_str_radix(digits, 16).ok().filter(|_| !digits.is_empty() && digits.len() <= 3)?;
            Some((value, close + 3))
        });
        match braced {
            Some((value, consumed)) => {
                out.push_str(&format!("\\x{value:02x}"));
                rest = &after[consumed..];
            }
            None => {
                // Copy the escape and the character it escapes (so `\\x{..}` stays literal).
                let escaped_len = after.chars().next().map_or(0, char::len_utf8);
                out.push_str(&rest[pos..pos + 1 + escaped_len]);
                rest = &after[escaped_len..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Find PCRE-only constructs the `regex` crate would either reject with a confusing message or
/// (for possessive quantifiers) misread. Escapes and character classes are skipped.
fn unsupported_pcre_feature(pattern: &str) -> Option<&'static str> {
    let p = pattern.as_bytes();
    let mut i = 0;
    let mut in_class = false;
    while i < p.len() {
        match p[i] {
            b'\\' => {
                if !in_class && p.get(i + 1).is_some_and(|c| (b'1'..=b'9').contains(c)) {
                    return Some("a backreference (`\\1`..`\\9`)");
                }
                if p.get(i + 1) == Some(&b'k') && matches!(p.get(i + 2), Some(b'<' | b'{' | b'\'')) {
                    return Some("a named backreference (`\\k<name>`)");
                }
                match p.get(i + 1) {
                    Some(b'K') => return Some("a match-start reset (`\\K`)"),
                    Some(b'G') => return Some("a previous-match anchor (`\\G`)"),
                    Some(b'Z') => return Some("an end-or-final-newline anchor (`\\Z`; use `$` or `\\z`)"),
                    Some(b'R' | b'X' | b'C') => return Some("a PCRE-only escape (`\\R`, `\\X`, `\\C`)"),
                    _ => {}
                }
                i += 2;
                continue;
            }
            b'[' if !in_class => {
                in_class = true;
                // A `]` right after `[` or `[^` is a literal.
                if p.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if p.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if in_class => in_class = false,
            b'(' if !in_class && p.get(i + 1) == Some(&b'?') => {
                let rest = &p[i + 2..];
                if rest.starts_with(b"=") || rest.starts_with(b"!") {
                    return Some("a lookahead (`(?=` / `(?!`)");
                }
                if rest.starts_with(b"<=") || rest.starts_with(b"<!") {
                    return Some("a lookbehind (`(?<=` / `(?<!`)");
                }
                if rest.starts_with(b">") {
                    return Some("an atomic group (`(?>`)");
                }
                if rest.starts_with(b"|") || rest.starts_with(b"(") || rest.starts_with(b"R") || rest.first().is_some_and(u8::is_ascii_digit) {
                    return Some("a branch reset, conditional or recursion (`(?|`, `(?(`, `(?R)`, `(?1)`)");
                }
            }
            b'(' if !in_class && p.get(i + 1) == Some(&b'*') => {
                return Some("a PCRE verb (`(*UTF)`, `(*SKIP)`, …)");
            }
            b'*' | b'+' | b'?' | b'}' if !in_class && p.get(i + 1) == Some(&b'+') => {
                // `a++`, `a*+`, `a?+`, `a{2}+`: possessive. (`a+` then a literal `+` would have
                // to be written `a+\+`.)
                return Some("a possessive quantifier (`*+`, `++`, `?+`, `{n}+`)");
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The pattern: compiled once at load, or per evaluation when it holds macros. The last
/// expansion is cached (a rule usually sees the same expanded value all request long, often
/// all day); the lock covers only the cache look-up, never compilation or matching, so
/// concurrent requests do not queue behind one another.
pub(crate) enum Pattern {
    /// With the literals one of which every match contains, when the pattern has such.
    Fixed(Regex, Option<RequiredLiterals>),
    Macro { param: Param, last: Mutex<Option<(String, Arc<Regex>)>> },
}

impl Pattern {
    pub(crate) fn new(operator: &str, param: &str) -> Result<Self, OperatorError> {
        let param = Param::new(param);
        if param.has_macro() {
            Ok(Pattern::Macro { param, last: Mutex::new(None) })
        } else {
            let regex = compile(operator, param.raw())?;
            Ok(Pattern::Fixed(regex, RequiredLiterals::new(&byte_escapes(param.raw()))))
        }
    }

    /// True when the pattern surely does not match `input`: it lacks every literal a match
    /// needs. Cheap; false when unsure.
    pub(crate) fn cannot_match(&self, input: &[u8]) -> bool {
        match self {
            Pattern::Fixed(_, Some(required)) => !required.may_match(input),
            _ => false,
        }
    }

    /// What every match contains (see [`Operator::required_literals`]).
    pub(crate) fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        match self {
            Pattern::Fixed(_, Some(required)) => Some(required.literals().to_vec()),
            _ => None,
        }
    }

    /// What every match contains, byte-wise (see [`Operator::required_bytes`]).
    pub(crate) fn required_bytes(&self) -> Option<crate::transform::ByteSet> {
        match self {
            Pattern::Fixed(re, _) => super::required_bytes::required_bytes(re.as_str()),
            Pattern::Macro { .. } => None,
        }
    }

    /// Run `f` with the regex for this evaluation; `None` when an expanded pattern does not
    /// compile (the rule then does not match: there is no way to report an error mid-request).
    pub(crate) fn with<R>(&self, ctx: &dyn OperatorContext, f: impl FnOnce(&Regex) -> R) -> Option<R> {
        match self {
            Pattern::Fixed(re, _) => Some(f(re)),
            Pattern::Macro { param, last } => {
                let text = param.resolve(ctx);
                let lock = || last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let cached = lock().as_ref().filter(|(t, _)| *t == *text).map(|(_, re)| Arc::clone(re));
                let re = match cached {
                    Some(re) => re,
                    None => {
                        let re = Arc::new(compile("rx", &text).ok()?);
                        *lock() = Some((text.to_string(), Arc::clone(&re)));
                        re
                    }
                };
                Some(f(&re))
            }
        }
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Fixed(re, _) => write!(f, "{:?}", re.as_str()),
            Pattern::Macro { param, .. } => write!(f, "{:?}", param.raw()),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Rx {
    pattern: Pattern,
}

pub(crate) fn build(param: &str) -> Result<Box<dyn Operator>, OperatorError> {
    Ok(Box::new(Rx { pattern: Pattern::new("rx", param)? }))
}

impl Operator for Rx {
    fn evaluate(&self, ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        if self.pattern.cannot_match(input) {
            return false;
        }
        if !ctx.capturing() {
            return self.pattern.with(&*ctx, |re| re.is_match(input)).unwrap_or(false);
        }
        // Most values do not match: answer that with the lazy DFA (`is_match`) and pay for the
        // capture engine only on a match. CRS rules nearly all ask for `capture`.
        let groups: Option<Vec<(usize, Vec<u8>)>> = self
            .pattern
            .with(&*ctx, |re| {
                if !re.is_match(input) {
                    return None;
                }
                re.captures(input).map(|caps| {
                    caps.iter()
                        .take(10)
                        .enumerate()
                        .filter_map(|(i, m)| m.map(|m| (i, m.as_bytes().to_vec())))
                        .collect()
                })
            })
            .flatten();
        match groups {
            Some(groups) => {
                for (i, value) in groups {
                    ctx.set_capture(i, &value);
                }
                true
            }
            None => false,
        }
    }

    fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        self.pattern.required_literals()
    }

    fn required_bytes(&self) -> Option<crate::transform::ByteSet> {
        self.pattern.required_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn modsecurity_flags() {
        let mut ctx = Ctx::default();
        assert!(build("a.b").is_ok_and(|op| op.evaluate(&mut ctx, b"a\nb")));
        assert!(build("^b$").is_ok_and(|op| op.evaluate(&mut ctx, b"a\nb\nc")));
        // Byte semantics: `.` matches invalid UTF-8.
        assert!(build("a.b").is_ok_and(|op| op.evaluate(&mut ctx, b"a\xffb")));
        assert!(build(r"\xff").is_ok_and(|op| op.evaluate(&mut ctx, b"\xff")));
    }

    #[test]
    fn braced_byte_escapes() {
        assert_eq!(byte_escapes(r"\x{bc}[^>\x{be}]"), r"\xbc[^>\xbe]");
        assert_eq!(byte_escapes(r"\\x{bc}"), r"\\x{bc}");
        assert_eq!(byte_escapes(r"\x{100}"), r"\x{100}");
        let mut ctx = Ctx::default();
        assert!(build(r"\x{bc}script").is_ok_and(|op| op.evaluate(&mut ctx, b"\xbcscript")));
    }

    #[test]
    fn refuses_pcre_only_features() {
        for p in [r"(a)\1", "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b", "a++", "(?>a)", r"\k<x>", r"a\Z", r"a\Kb", "(?|a)", "(*UTF)a", "(?R)"] {
            assert!(matches!(build(p), Err(OperatorError::InvalidArgument { .. })), "{p}");
        }
        for p in [r"[+]+", r"a+\+", r"[(?=]", "(?<name>a)", r"\\1"] {
            assert!(build(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn captures_first_match() {
        let mut ctx = Ctx { capture: true, ..Ctx::default() };
        assert!(build("(a)(b?)(c)").is_ok_and(|op| op.evaluate(&mut ctx, b"xac")));
        assert_eq!(ctx.captures, vec![(0, b"ac".to_vec()), (1, b"a".to_vec()), (2, b"".to_vec()), (3, b"c".to_vec())]);
    }

    #[test]
    fn macro_patterns() {
        let mut ctx = Ctx::default();
        ctx.vars.push(("tx.p".into(), "^ad+min$".into()));
        let op = build("%{tx.p}");
        assert!(op.as_ref().is_ok_and(|op| op.evaluate(&mut ctx, b"addmin")));
        assert!(op.is_ok_and(|op| !op.evaluate(&mut ctx, b"user")));
    }
}
