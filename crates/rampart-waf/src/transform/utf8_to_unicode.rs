//! `t:utf8toUnicode`: rewrites each well-formed multi-byte UTF-8 sequence as `%uXXXX`
//! (lowercase hex, at least four digits), so that a rule written against `%u` escapes also
//! catches raw UTF-8. ASCII and bytes that do not start a well-formed sequence are copied.

use std::borrow::Cow;
use std::io::Write as _;

use super::owned_if_changed;

/// `t:utf8toUnicode` — `SecRule ARGS "@contains %uff1c" "id:1,t:utf8toUnicode"`.
pub fn utf8_to_unicode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_ascii() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() * 2);
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        let (len, lead_bits) = match c {
            0xc0..=0xdf => (2, c & 0x1f),
            0xe0..=0xef => (3, c & 0x0f),
            0xf0..=0xf7 => (4, c & 0x07),
            _ => (1, c),
        };
        let tail = input.get(i + 1..i + len);
        let well_formed = len > 1 && tail.is_some_and(|t| t.iter().all(|&b| b & 0xc0 == 0x80));
        if !well_formed {
            out.push(c);
            i += 1;
            continue;
        }
        let code = input[i + 1..i + len]
            .iter()
            .fold(u32::from(lead_bits), |acc, &b| (acc << 6) | u32::from(b & 0x3f));
        // Writing into a Vec cannot fail.
        let _ = write!(out, "%u{code:04x}");
        i += len;
    }
    owned_if_changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_sequences() {
        assert_eq!(&*utf8_to_unicode("Ā a ✁".as_bytes()), b"%u0100 a %u2701");
        assert_eq!(&*utf8_to_unicode(b"\xc3"), b"\xc3");
        assert_eq!(&*utf8_to_unicode("😀".as_bytes()), b"%u1f600");
    }
}
