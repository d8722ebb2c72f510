//! `t:escapeSeqDecode`: decodes ANSI C escapes — `\a \b \f \n \r \t \v \\ \? \' \"`, `\xHH`
//! and octal `\O`..`\OOO` (the value wraps to a byte, as in ModSecurity). An escape it does not
//! recognise (`\8`, `\x` without two hex digits) becomes the escaped character alone.

use std::borrow::Cow;

use super::{is_hex, is_octal, owned_if_changed, x2c};

/// `t:escapeSeqDecode` — `SecRule ARGS "@rx /bin/sh" "id:1,t:escapeSeqDecode"`.
pub fn escape_seq_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let rest = &input[i + 1..];
        let simple = match rest[0] {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'?' | b'\'' | b'"' => Some(rest[0]),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
        } else if matches!(rest[0], b'x' | b'X') && rest.len() >= 3 && is_hex(rest[1]) && is_hex(rest[2]) {
            out.push(x2c(rest[1], rest[2]));
            i += 4;
        } else if is_octal(rest[0]) {
            let digits = rest.iter().take(3).take_while(|&&c| is_octal(c)).count();
            let value = rest[..digits].iter().fold(0u32, |acc, &c| acc * 8 + u32::from(c - b'0'));
            out.push(value as u8);
            i += 1 + digits;
        } else {
            out.push(rest[0]);
            i += 2;
        }
    }
    owned_if_changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_escapes() {
        assert_eq!(&*escape_seq_decode(br#"\a\n\"\x41\101\0123"#), b"\x07\n\"AA\n3");
        assert_eq!(&*escape_seq_decode(br"\8\666\xag\x"), b"8\xb6xagx");
        assert_eq!(&*escape_seq_decode(b"\\"), b"\\");
    }
}
