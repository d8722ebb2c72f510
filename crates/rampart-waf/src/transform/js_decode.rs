//! `t:jsDecode`: decodes JavaScript escapes — `\uHHHH` (low byte kept, full-width ASCII
//! folded), `\xHH`, octal `\OOO` (at most one byte's worth) and the one-letter escapes
//! `\a \b \f \n \r \t \v`; any other `\C` becomes `C`. Invalid escapes lose only the backslash.

use std::borrow::Cow;

use super::{is_hex, is_octal, owned_if_changed, x2c};

/// `t:jsDecode` — `SecRule ARGS "@rx alert\(" "id:1,t:jsDecode"`.
pub fn js_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let rest = &input[i + 1..];
        let hex_at = |k: usize| rest.get(k).is_some_and(|&c| is_hex(c));
        if rest.first() == Some(&b'u') && (1..5).all(hex_at) {
            let mut c = x2c(rest[3], rest[4]);
            let full_width = matches!(rest[1], b'f' | b'F') && matches!(rest[2], b'f' | b'F');
            if full_width && c > 0x00 && c < 0x5f {
                c += 0x20;
            }
            out.push(c);
            i += 6;
        } else if rest.first() == Some(&b'x') && (1..3).all(hex_at) {
            out.push(x2c(rest[1], rest[2]));
            i += 4;
        } else if rest.first().is_some_and(|&c| is_octal(c)) {
            let mut digits = rest.iter().take(3).take_while(|&&c| is_octal(c)).count();
            // Three digits only while the value still fits a byte (\377 at most).
            if digits == 3 && rest[0] > b'3' {
                digits = 2;
            }
            let value = rest[..digits].iter().fold(0u32, |acc, &c| acc * 8 + u32::from(c - b'0'));
            out.push(value as u8);
            i += 1 + digits;
        } else if let Some(&c) = rest.first() {
            out.push(match c {
                b'a' => 0x07,
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'v' => 0x0b,
                other => other,
            });
            i += 2;
        } else {
            // A trailing lone backslash is kept.
            out.push(b'\\');
            i += 1;
        }
    }
    owned_if_changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(&*js_decode(br"\u0041\x42\103\n\q\\"), b"ABC\nq\\");
        assert_eq!(&*js_decode(br"\uff01\u\x\u01"), b"!uxu01");
        assert_eq!(&*js_decode(br"\477"), b"'7");
        assert_eq!(&*js_decode(b"\\"), b"\\");
    }
}
