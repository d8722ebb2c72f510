//! Transformations (`t:name`): pure functions from bytes to bytes, applied in a chain before an
//! operator runs. One file per transformation (or per tightly related family, such as the URL
//! decoders); [`lookup`] finds one by its SecLang name.
//!
//! Semantics follow ModSecurity v3 byte for byte where the secrules-language-tests pin them
//! down (including its quirks: `t:removeComments` keeps the byte after a closing `*/`,
//! `t:hexDecode` does not validate digits), because the OWASP CRS was tuned against that
//! engine. Every function here is total: any byte input gives an output, never a panic.

use std::borrow::Cow;

mod base64;
mod bytes_after;
mod case;
mod cmd_line;
mod comments;
mod css_decode;
mod digest;
mod escape_seq_decode;
mod hex;
mod html_entity_decode;
mod js_decode;
mod length;
mod normalise_path;
mod nulls;
mod parity;
mod php_args_names;
mod trim;
mod url_decode;
mod url_encode;
mod utf8_to_unicode;
mod whitespace;

pub use bytes_after::{bytes_after, ByteEffect};

/// A transformation: returns the input borrowed when it has nothing to change, so that a chain
/// of transformations over clean input allocates nothing.
pub type TransformFn = fn(&[u8]) -> Cow<'_, [u8]>;

/// Every transformation this module knows, by its canonical SecLang name. Aliases accepted by
/// [`lookup`] (`normalizePath`, `normalizePathWin`) are not repeated here.
const REGISTRY: &[(&str, TransformFn)] = &[
    ("base64Decode", base64::base64_decode),
    ("base64DecodeExt", base64::base64_decode_ext),
    ("base64Encode", base64::base64_encode),
    ("cmdLine", cmd_line::cmd_line),
    ("compressWhitespace", whitespace::compress_whitespace),
    ("cssDecode", css_decode::css_decode),
    ("escapeSeqDecode", escape_seq_decode::escape_seq_decode),
    ("hexDecode", hex::hex_decode),
    ("hexEncode", hex::hex_encode),
    ("htmlEntityDecode", html_entity_decode::html_entity_decode),
    ("jsDecode", js_decode::js_decode),
    ("length", length::length),
    ("lowercase", case::lowercase),
    ("md5", digest::md5),
    ("normalisePath", normalise_path::normalise_path),
    ("normalisePathWin", normalise_path::normalise_path_win),
    ("parityEven7bit", parity::parity_even_7bit),
    ("parityOdd7bit", parity::parity_odd_7bit),
    ("parityZero7bit", parity::parity_zero_7bit),
    ("phpArgsNames", php_args_names::php_args_names),
    ("removeComments", comments::remove_comments),
    ("removeCommentsChar", comments::remove_comments_char),
    ("removeNulls", nulls::remove_nulls),
    ("removeWhitespace", whitespace::remove_whitespace),
    ("replaceComments", comments::replace_comments),
    ("replaceNulls", nulls::replace_nulls),
    ("sha1", digest::sha1),
    ("sqlHexDecode", hex::sql_hex_decode),
    ("trim", trim::trim),
    ("trimLeft", trim::trim_left),
    ("trimRight", trim::trim_right),
    ("uppercase", case::uppercase),
    ("urlDecode", url_decode::url_decode),
    ("urlDecodeUni", url_decode::url_decode_uni),
    ("urlEncode", url_encode::url_encode),
    ("utf8toUnicode", utf8_to_unicode::utf8_to_unicode),
];

/// Find a transformation by its SecLang name (case-insensitive, as ModSecurity reads it).
/// `none` is not a transformation but a directive to the rule; callers handle it.
pub fn lookup(name: &str) -> Option<TransformFn> {
    // The American spellings are accepted by ModSecurity and used by the CRS (`t:normalizePath`).
    let name = match name.to_ascii_lowercase().as_str() {
        "normalizepath" => "normalisePath",
        "normalizepathwin" => "normalisePathWin",
        _ => name,
    };
    REGISTRY
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, f)| *f)
}

/// The canonical names of every transformation [`lookup`] finds (for diagnostics and tests).
pub fn names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|(name, _)| *name)
}

/// A set of bytes, one bit each.
pub type ByteSet = [u64; 4];

/// The bytes `input` holds.
pub fn byte_set(input: &[u8]) -> ByteSet {
    let mut set = [0u64; 4];
    for &b in input {
        set[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    set
}

/// Whether two byte sets share a byte.
pub fn intersects(a: &ByteSet, b: &ByteSet) -> bool {
    a.iter().zip(b).any(|(x, y)| x & y != 0)
}

/// The bytes without which a built-in transformation returns its input unchanged (its own
/// fast path checks exactly these): a chain may skip the step for a value known to hold none
/// of them. `None` for the other transformations, and for functions an embedder registered.
pub fn unchanged_without(function: TransformFn) -> Option<ByteSet> {
    let set = |pred: fn(u8) -> bool| {
        let mut set = [0u64; 4];
        for b in 0..=u8::MAX {
            if pred(b) {
                set[usize::from(b >> 6)] |= 1 << (b & 63);
            }
        }
        set
    };
    let is = |known: TransformFn| std::ptr::fn_addr_eq(function, known);
    if is(case::lowercase) {
        Some(set(|b| b.is_ascii_uppercase()))
    } else if is(case::uppercase) {
        Some(set(|b| b.is_ascii_lowercase()))
    } else if is(url_decode::url_decode) || is(url_decode::url_decode_uni) {
        Some(set(|b| b == b'%' || b == b'+'))
    } else if is(html_entity_decode::html_entity_decode) {
        Some(set(|b| b == b'&'))
    } else if is(js_decode::js_decode) || is(css_decode::css_decode) {
        Some(set(|b| b == b'\\'))
    } else if is(nulls::remove_nulls) || is(nulls::replace_nulls) {
        Some(set(|b| b == 0))
    } else if is(utf8_to_unicode::utf8_to_unicode) {
        Some(set(|b| !b.is_ascii()))
    } else if is(whitespace::remove_whitespace) {
        Some(set(|b| is_c_space(b) || b == 0xa0))
    } else {
        None
    }
}

/// Borrow the input when a transformation's output turned out identical to it, so callers can
/// tell "unchanged" from the `Cow` and no allocation escapes.
pub(crate) fn owned_if_changed(input: &[u8], out: Vec<u8>) -> Cow<'_, [u8]> {
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

/// True for the bytes C's `isxdigit` accepts.
pub(crate) fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

/// Value of one hex digit; only call on bytes for which [`is_hex`] holds (others give 0).
pub(crate) fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// ModSecurity's `x2c`: two hex digits to a byte, without validating them (`t:hexDecode`
/// relies on that: `"0z"` decodes to `#`). Wrapping arithmetic reproduces C's `unsigned char`.
pub(crate) fn x2c(hi: u8, lo: u8) -> u8 {
    fn digit(c: u8) -> u8 {
        if c >= b'A' {
            (c & 0xdf).wrapping_sub(b'A').wrapping_add(10)
        } else {
            c.wrapping_sub(b'0')
        }
    }
    digit(hi).wrapping_mul(16).wrapping_add(digit(lo))
}

/// C's `isspace` in the "C" locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
pub(crate) fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `isdigit` restricted to octal digits.
pub(crate) fn is_octal(c: u8) -> bool {
    (b'0'..=b'7').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_knows_aliases() {
        assert!(lookup("URLDECODEUNI").is_some());
        assert!(lookup("normalizePath").is_some());
        assert!(lookup("normalizepathwin").is_some());
        assert!(lookup("none").is_none());
        assert!(lookup("nope").is_none());
        assert_eq!(names().count(), REGISTRY.len());
    }

    /// A step a chain skips must really be a no-op: every input lacking its bytes comes back
    /// unchanged.
    #[test]
    fn unchanged_without_its_bytes() {
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut checked = 0;
        for (name, function) in REGISTRY {
            let Some(needs) = unchanged_without(*function) else { continue };
            checked += 1;
            for n in 0..2000usize {
                let input: Vec<u8> = (0..n % 48)
                    .map(|_| {
                        crate::test_rng::next(&mut s);
                        (s >> 24) as u8
                    })
                    .filter(|&b| !intersects(&byte_set(&[b]), &needs))
                    .collect();
                assert_eq!(&*function(&input), &input[..], "t:{name} changed {:?}", input.escape_ascii().to_string());
            }
        }
        assert_eq!(checked, 11);
    }

    #[test]
    fn x2c_matches_modsecurity() {
        assert_eq!(x2c(b'4', b'1'), b'A');
        assert_eq!(x2c(b'0', b'z'), b'#');
        assert_eq!(x2c(b'f', b'F'), 0xff);
    }

    /// Every transformation over a few thousand random and edge-case inputs: no panic, and the
    /// borrowed-when-unchanged contract holds.
    #[test]
    fn no_transformation_panics_on_any_bytes() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Bytes that steer the decoders into their escape paths, mixed with random ones.
        const SPECIAL: &[u8] = b"%uU+&#;xX\\/.*-<!>0fF9aA \t\r\n\x00\xff\xc3\xe2\xf0\x80'\"^,[]=";
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new()];
        for n in 0..4000 {
            let len = (next() % 24) as usize + (n % 3);
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 3 == 0 {
                        (r >> 8) as u8
                    } else {
                        SPECIAL[(r >> 8) as usize % SPECIAL.len()]
                    }
                })
                .collect();
            inputs.push(input);
        }
        for name in names() {
            let Some(f) = lookup(name) else { panic!("{name} not found") };
            for input in &inputs {
                let out = f(input);
                if let Cow::Owned(o) = &out {
                    assert!(o != input, "{name}: owned but unchanged");
                }
            }
        }
    }
}
