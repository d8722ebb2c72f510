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

use super::{byte_set, case, cmd_line, comments, html_entity_decode, js_decode, css_decode, length, normalise_path, nulls,
    trim, url_decode, utf8_to_unicode, whitespace, ByteSet, TransformFn};

/// Every byte: the bound of a transformation that can produce anything.
const ALL: ByteSet = [u64::MAX; 4];

fn has(set: &ByteSet, b: u8) -> bool {
    set[usize::from(b >> 6)] & (1 << (b & 63)) != 0
}

fn add(set: &mut ByteSet, b: u8) {
    set[usize::from(b >> 6)] |= 1 << (b & 63);
}

fn remove(set: &mut ByteSet, b: u8) {
    set[usize::from(b >> 6)] &= !(1 << (b & 63));
}

fn any(set: &ByteSet, bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| has(set, b))
}

/// `set` with ASCII upper-case letters folded to lower case (or the reverse).
fn fold(set: &ByteSet, to_lower: bool) -> ByteSet {
    let mut out = *set;
    let (from, to) = if to_lower { (b'A', b'a') } else { (b'a', b'A') };
    for i in 0..26 {
        if has(set, from + i) {
            remove(&mut out, from + i);
            add(&mut out, to + i);
        }
    }
    out
}

/// The C-locale spaces and the no-break space, which the whitespace transformations treat alike.
const SPACES: &[u8] = b" \t\n\x0b\x0c\r\xa0";

/// A superset of the bytes `function`'s output can hold for any input whose bytes are in `held`.
/// Every byte for transformations this module does not know.
pub fn bytes_after(function: TransformFn, held: &ByteSet) -> ByteSet {
    let is = |known: TransformFn| std::ptr::fn_addr_eq(function, known);
    if is(case::lowercase) {
        fold(held, true)
    } else if is(case::uppercase) {
        fold(held, false)
    } else if is(url_decode::url_decode) || is(url_decode::url_decode_uni) {
        // A `%` escape can make any byte; a `+` only a space (and goes).
        if any(held, b"%") {
            ALL
        } else if any(held, b"+") {
            let mut out = *held;
            remove(&mut out, b'+');
            add(&mut out, b' ');
            out
        } else {
            *held
        }
    } else if is(html_entity_decode::html_entity_decode) {
        if any(held, b"&") { ALL } else { *held }
    } else if is(js_decode::js_decode) || is(css_decode::css_decode) {
        if any(held, b"\\") { ALL } else { *held }
    } else if is(utf8_to_unicode::utf8_to_unicode) {
        if held[2] | held[3] != 0 { ALL } else { *held }
    } else if is(nulls::remove_nulls) {
        let mut out = *held;
        remove(&mut out, 0);
        out
    } else if is(nulls::replace_nulls) {
        let mut out = *held;
        if has(held, 0) {
            remove(&mut out, 0);
            add(&mut out, b' ');
        }
        out
    } else if is(whitespace::remove_whitespace) {
        let mut out = *held;
        SPACES.iter().for_each(|&b| remove(&mut out, b));
        out
    } else if is(whitespace::compress_whitespace) {
        let mut out = *held;
        if any(held, SPACES) {
            SPACES.iter().for_each(|&b| remove(&mut out, b));
            add(&mut out, b' ');
        }
        out
    } else if is(cmd_line::cmd_line) {
        // Quotes, `\` and `^` are dropped, separators become one space, the rest is lower-cased.
        let mut out = *held;
        let separators = b" ,;\t\r\n";
        let spaced = any(held, separators);
        b"\"'\\^".iter().chain(separators).for_each(|&b| remove(&mut out, b));
        let mut out = fold(&out, true);
        if spaced {
            add(&mut out, b' ');
        }
        out
    } else if is(comments::replace_comments) {
        let mut out = *held;
        add(&mut out, b' ');
        out
    } else if is(comments::remove_comments) {
        // The byte after a closing `*/` is kept, NUL when there is none (ModSecurity's quirk).
        let mut out = *held;
        add(&mut out, b' ');
        add(&mut out, 0);
        out
    } else if is(comments::remove_comments_char) || is(trim::trim) || is(trim::trim_left) || is(trim::trim_right) {
        *held
    } else if is(normalise_path::normalise_path) || is(normalise_path::normalise_path_win) {
        let mut out = *held;
        add(&mut out, b'/');
        out
    } else if is(length::length) {
        byte_set(b"0123456789")
    } else {
        ALL
    }
}

#[cfg(test)]
mod tests {
    use super::super::{byte_set, intersects, REGISTRY};
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
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        if s % 5 == 0 { (s >> 8) as u8 } else { SPECIAL[(s >> 8) as usize % SPECIAL.len()] }
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
    }
}
