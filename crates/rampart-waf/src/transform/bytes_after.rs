//! What bytes a transformation's output can hold, given the bytes of its input: a bound that
//! costs a few set operations instead of running the chain.
//!
//! A rule whose operator needs one of a few bytes (`[\n\r]`, `$`, `<`, see
//! [`crate::operator::Operator::required_bytes`]) is skipped when none of its variables'
//! transformed values holds one. Transforming every value under every chain to learn that is
//! most of what such a check costs; but the bytes of the untransformed values, carried through
//! the chain with [`bytes_after`], usually answer already: `t:lowercase` cannot make a `$`,
//! `t:urlDecodeUni` makes nothing but spaces without a `%`. Only when the bound holds a needed
//! byte are the values transformed and looked at one by one.

use super::{byte_set, case, cmd_line, comments, css_decode, html_entity_decode, intersects, js_decode, length, normalise_path,
    nulls, trim, url_decode, utf8_to_unicode, whitespace, ByteSet, TransformFn};

/// Every byte: the bound of a transformation that can produce anything.
const ALL: ByteSet = [u64::MAX; 4];

fn has(set: &ByteSet, b: u8) -> bool {
    set[usize::from(b >> 6)] & (1 << (b & 63)) != 0
}

/// The letters `A`..=`Z` in word 1 of a [`ByteSet`] (bytes 64..128): bits 1..=26; `a`..=`z`
/// are the same bits shifted up by 32.
const UPPER: u64 = ((1 << 26) - 1) << 1;

/// `set` with ASCII upper-case letters folded to lower case (or the reverse).
fn fold(set: &ByteSet, to_lower: bool) -> ByteSet {
    let mut out = *set;
    out[1] = if to_lower { (set[1] & !UPPER) | ((set[1] & UPPER) << 32) } else { (set[1] & !(UPPER << 32)) | ((set[1] & (UPPER << 32)) >> 32) };
    out
}

fn minus(set: &ByteSet, gone: &ByteSet) -> ByteSet {
    [set[0] & !gone[0], set[1] & !gone[1], set[2] & !gone[2], set[3] & !gone[3]]
}

fn plus(set: &ByteSet, more: &ByteSet) -> ByteSet {
    [set[0] | more[0], set[1] | more[1], set[2] | more[2], set[3] | more[3]]
}

/// The C-locale spaces and the no-break space, which the whitespace transformations treat alike.
const SPACES: &[u8] = b" \t\n\x0b\x0c\r\xa0";

/// What a transformation does to the bytes a value holds, resolved once when a rule is loaded
/// ([`ByteEffect::of`]) so that a chain's bound is a few set operations per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteEffect {
    /// Leaves the bytes as they are, or removes some.
    Same,
    /// Removes these bytes.
    Remove(ByteSet),
    /// May add these bytes.
    Add(ByteSet),
    /// When one of these bytes is held: they go and the byte comes.
    Replace(ByteSet, u8),
    /// Any byte when one of these is held, else the bytes as they are.
    AnyIf(ByteSet),
    /// ASCII letters folded to lower case.
    Lower,
    /// ASCII letters folded to upper case.
    Upper,
    /// `t:urlDecode(Uni)`: any byte with a `%`; a `+` becomes a space.
    UrlDecode,
    /// `t:cmdLine`: quotes, `\` and `^` go, separators become a space, letters fold down.
    CmdLine,
    /// Only these bytes, whatever the input.
    Only(ByteSet),
    /// Any byte.
    Any,
}

impl ByteEffect {
    /// The effect of `function`; [`ByteEffect::Any`] for transformations this module does not
    /// know.
    pub fn of(function: TransformFn) -> ByteEffect {
        let is = |known: TransformFn| std::ptr::fn_addr_eq(function, known);
        if is(case::lowercase) {
            ByteEffect::Lower
        } else if is(case::uppercase) {
            ByteEffect::Upper
        } else if is(url_decode::url_decode) || is(url_decode::url_decode_uni) {
            ByteEffect::UrlDecode
        } else if is(html_entity_decode::html_entity_decode) {
            ByteEffect::AnyIf(byte_set(b"&"))
        } else if is(js_decode::js_decode) || is(css_decode::css_decode) {
            ByteEffect::AnyIf(byte_set(b"\\"))
        } else if is(utf8_to_unicode::utf8_to_unicode) {
            ByteEffect::AnyIf([0, 0, u64::MAX, u64::MAX])
        } else if is(nulls::remove_nulls) {
            ByteEffect::Remove(byte_set(b"\0"))
        } else if is(nulls::replace_nulls) {
            ByteEffect::Replace(byte_set(b"\0"), b' ')
        } else if is(whitespace::remove_whitespace) {
            ByteEffect::Remove(byte_set(SPACES))
        } else if is(whitespace::compress_whitespace) {
            ByteEffect::Replace(byte_set(SPACES), b' ')
        } else if is(cmd_line::cmd_line) {
            ByteEffect::CmdLine
        } else if is(comments::replace_comments) {
            ByteEffect::Add(byte_set(b" "))
        } else if is(comments::remove_comments) {
            // The byte after a closing `*/` is kept, NUL when there is none (ModSecurity's quirk).
            ByteEffect::Add(byte_set(b" \0"))
        } else if is(comments::remove_comments_char) || is(trim::trim) || is(trim::trim_left) || is(trim::trim_right) {
            ByteEffect::Same
        } else if is(normalise_path::normalise_path) || is(normalise_path::normalise_path_win) {
            ByteEffect::Add(byte_set(b"/"))
        } else if is(length::length) {
            ByteEffect::Only(byte_set(b"0123456789"))
        } else {
            ByteEffect::Any
        }
    }

    /// A superset of the bytes the output can hold for any input whose bytes are in `held`.
    pub fn apply(&self, held: &ByteSet) -> ByteSet {
        match self {
            ByteEffect::Same => *held,
            ByteEffect::Remove(gone) => minus(held, gone),
            ByteEffect::Add(more) => plus(held, more),
            ByteEffect::Replace(from, to) => {
                if intersects(held, from) {
                    plus(&minus(held, from), &byte_set(&[*to]))
                } else {
                    *held
                }
            }
            ByteEffect::AnyIf(trigger) => {
                if intersects(held, trigger) {
                    ALL
                } else {
                    *held
                }
            }
            ByteEffect::Lower => fold(held, true),
            ByteEffect::Upper => fold(held, false),
            ByteEffect::UrlDecode => {
                if has(held, b'%') {
                    ALL
                } else if has(held, b'+') {
                    plus(&minus(held, &byte_set(b"+")), &byte_set(b" "))
                } else {
                    *held
                }
            }
            ByteEffect::CmdLine => {
                let separators = byte_set(b" ,;\t\r\n");
                let out = fold(&minus(&minus(held, &byte_set(b"\"'\\^")), &separators), true);
                if intersects(held, &separators) {
                    plus(&out, &byte_set(b" "))
                } else {
                    out
                }
            }
            ByteEffect::Only(set) => *set,
            ByteEffect::Any => ALL,
        }
    }
}

/// A superset of the bytes `function`'s output can hold for any input whose bytes are in `held`.
/// Every byte for transformations this module does not know.
pub fn bytes_after(function: TransformFn, held: &ByteSet) -> ByteSet {
    ByteEffect::of(function).apply(held)
}

#[cfg(test)]
mod tests {
    use super::super::REGISTRY;
    use super::*;

    fn subset(a: &ByteSet, b: &ByteSet) -> bool {
        a.iter().zip(b).all(|(x, y)| x & !y == 0)
    }

    /// Every output's bytes are within the bound of its input's bytes, for every transformation
    /// in the registry, over random inputs rich in the bytes transformations act on.
    #[test]
    fn outputs_stay_within_the_bound() {
        let mut s: u64 = 0x2545_f491_4f6c_dd1d;
        const SPECIAL: &[u8] = b"%uU+&#;xX\\/.*-<>!0123456789aAbBfF \t\r\n\x0b\x0c\x00\xa0\xff\xc3\xa9\"'^,()";
        for (name, function) in REGISTRY {
            for n in 0..4000usize {
                let input: Vec<u8> = (0..n % 40)
                    .map(|_| {
                        crate::test_rng::next(&mut s);
                        if s.is_multiple_of(5) { (s >> 8) as u8 } else { SPECIAL[(s >> 8) as usize % SPECIAL.len()] }
                    })
                    .collect();
                let bound = bytes_after(*function, &byte_set(&input));
                let output = function(&input);
                assert!(subset(&byte_set(&output), &bound), "t:{name} of {:?} left its bound", input.escape_ascii().to_string());
            }
        }
    }

    #[test]
    fn clean_text_keeps_a_tight_bound() {
        let held = byte_set(b"Looking forward to Saturday");
        let bound = bytes_after(case::lowercase, &bytes_after(url_decode::url_decode_uni, &held));
        assert!(!intersects(&bound, &byte_set(b"$<;|&`{}\n\rLS")));
        assert!(intersects(&bound, &byte_set(b"l")));
        assert_eq!(bytes_after(case::uppercase, &byte_set(b"aZ{")), byte_set(b"AZ{"));
        assert_eq!(bytes_after(case::lowercase, &byte_set(b"@AZ[az")), byte_set(b"@az["));
    }
}
