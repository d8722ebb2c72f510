//! Required bytes of a regex: a set of bytes such that every match of the pattern contains at
//! least one of them. The byte-level sibling of [`super::required_literals`], for the many CRS
//! patterns that need a punctuation byte but no literal of two bytes or more:
//! `(?:[\n\r;`\{]|\|\|?|&&?)[\s\x0b]*…` needs one of `\n \r ; ` { | &`, `\$\s*\{…` needs `$`.
//! The transaction knows which bytes each (transformed) value holds, so such an operator is not
//! run on a value that holds none of them, and a rule none of whose variables holds one is
//! skipped whole (see `tx::literal_skip`).
//!
//! The walk over the syntax tree is conservative, as for literals:
//! * a literal requires any one of its bytes (we pick the rarest); a class requires its bytes;
//! * a concatenation requires what any one of its parts requires (we pick the rarest set);
//! * an alternation requires the union of its branches' sets, and nothing if one branch
//!   requires nothing;
//! * a repetition requires what its body requires when it must run at least once; an optional
//!   part, an empty match or a look-around assertion requires nothing.
//!
//! A set with a letter or a digit is dropped: nearly every value holds one, so it would filter
//! nothing.

use regex_syntax::hir::{Class, Hir, HirKind};

use crate::transform::ByteSet;

/// The required bytes of `pattern` compiled with ModSecurity's flags (the ones
/// [`super::rx::compile`] uses), or `None` when no useful set exists or the pattern does not
/// parse.
pub(crate) fn required_bytes(pattern: &str) -> Option<ByteSet> {
    let hir = super::required_literals::parse_as_compiled(pattern)?;
    let set = bytes(&hir)?;
    let alphanumeric = (0..=u8::MAX).any(|b| b.is_ascii_alphanumeric() && has(&set, b));
    (!alphanumeric).then_some(set)
}

fn has(set: &ByteSet, b: u8) -> bool {
    set[usize::from(b >> 6)] & (1 << (b & 63)) != 0
}

fn add(set: &mut ByteSet, b: u8) {
    set[usize::from(b >> 6)] |= 1 << (b & 63);
}

/// How often a byte turns up in ordinary request values: letters and digits nearly always,
/// then spaces and the punctuation of addresses and prose, the rest seldom.
fn weight(b: u8) -> u32 {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => 1000,
        b' ' => 100,
        b'.' | b'-' | b'_' | b',' | b'/' => 30,
        b'=' | b'&' | b':' | b'@' | b'+' | b'%' | b';' => 10,
        _ => 3,
    }
}

/// The cost of searching for a set: how likely an ordinary value holds one of its bytes.
fn cost(set: &ByteSet) -> u32 {
    (0..=u8::MAX).filter(|&b| has(set, b)).map(weight).sum()
}

fn bytes(hir: &Hir) -> Option<ByteSet> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(lit) => {
            let rarest = lit.0.iter().copied().min_by_key(|&b| weight(b))?;
            let mut set = [0u64; 4];
            add(&mut set, rarest);
            Some(set)
        }
        HirKind::Class(class) => class_bytes(class),
        HirKind::Capture(cap) => bytes(&cap.sub),
        HirKind::Repetition(rep) => {
            if rep.min == 0 {
                None
            } else {
                bytes(&rep.sub)
            }
        }
        HirKind::Concat(parts) => parts.iter().filter_map(bytes).min_by_key(cost),
        HirKind::Alternation(branches) => {
            let mut union = [0u64; 4];
            for branch in branches {
                let set = bytes(branch)?;
                for (u, s) in union.iter_mut().zip(set) {
                    *u |= s;
                }
            }
            Some(union)
        }
    }
}

/// The bytes a class matches. A Unicode class (which byte-mode parsing does not make, but the
/// tree allows) counts only when it is ASCII: beyond, a character matches several bytes.
fn class_bytes(class: &Class) -> Option<ByteSet> {
    let mut set = [0u64; 4];
    match class {
        Class::Bytes(c) => {
            for r in c.ranges() {
                for b in r.start()..=r.end() {
                    add(&mut set, b);
                }
            }
        }
        Class::Unicode(c) => {
            for r in c.ranges() {
                let (start, end) = (u8::try_from(u32::from(r.start())).ok()?, u8::try_from(u32::from(r.end())).ok()?);
                if end > 0x7f {
                    return None;
                }
                for b in start..=end {
                    add(&mut set, b);
                }
            }
        }
    }
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_of(p: &str) -> Option<Vec<u8>> {
        required_bytes(p).map(|s| (0..=u8::MAX).filter(|&b| has(&s, b)).collect())
    }

    #[test]
    fn punctuation_required() {
        assert_eq!(set_of(r"\$\s*\{\s*\S[^\{\}]*\}"), Some(b"$".to_vec()));
        assert_eq!(set_of(r"(?i)(?:[\n\r;`\{]|\|\|?|&&?)[\s\x0b]*x"), Some(b"\n\r&;`{|".to_vec()));
        assert_eq!(set_of("[\\n\\r]"), Some(b"\n\r".to_vec()));
        // The rarest part of a concatenation: `<` rather than `s`, `c`, …
        assert_eq!(set_of("(?i)<script"), Some(b"<".to_vec()));
    }

    #[test]
    fn nothing_useful_required() {
        for p in ["a?", "(?i)union.select", "[a-z]+", ".", "^$", "\\d+", "(?:<|)x", "x|<", "[^<]"] {
            assert_eq!(set_of(p), None, "{p}");
        }
    }

    /// Every match holds a required byte, over random inputs for a few CRS-like patterns.
    #[test]
    fn matches_hold_a_required_byte() {
        let patterns = [
            r"(?:^|[/;\x5c])\.{2,3}[/;\x5c]",
            r"\$+(?:[A-Z_a-z\x7f-\xff][0-9A-Z_a-z\x7f-\xff]*|\s*\{.+\})",
            r#"(?i)["'`][\[\{][^#\]\}]*[\]\}]+["'`]"#,
            r"(?:\{[^\}]*\}|<>|!=)+;?",
            r"(?i)(?:[\n\r;`\{]|\|\|?|&&?)[\s\x0b]*[\s\x0b\(,@]*",
        ];
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        const ALPHABET: &[u8] = b"abcXYZ019 ./\\;{}[]$<>!=\"'`|&\n\r\t\x0b(),@#\x7f\xff";
        for p in patterns {
            let Some(required) = required_bytes(p) else { panic!("{p}: no set") };
            let Ok(re) = super::super::rx::compile("rx", p) else { panic!("{p}: compiles") };
            for n in 0..4000usize {
                let input: Vec<u8> = (0..n % 24)
                    .map(|_| {
                        crate::test_rng::next(&mut s);
                        ALPHABET[(s >> 11) as usize % ALPHABET.len()]
                    })
                    .collect();
                if re.is_match(&input) {
                    assert!(input.iter().any(|&b| has(&required, b)), "{p} matched {:?}", input.escape_ascii().to_string());
                }
            }
        }
    }
}
