//! `t:cssDecode`: decodes CSS 2.x escapes — `\` followed by 1 to 6 hex digits (the last two
//! give the byte; full-width ASCII `\ff01`..`\ff5e` is folded), one optional whitespace after
//! a hex escape is eaten, `\<newline>` disappears and `\C` becomes `C`.

use std::borrow::Cow;

use super::{hex_value, is_c_space, is_hex, owned_if_changed, x2c};

/// `t:cssDecode` — `SecRule ARGS "@rx expression\(" "id:1,t:cssDecode"`.
pub fn css_decode(input: &[u8]) -> Cow<'_, [u8]> {
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
        i += 1;
        let Some(&next) = input.get(i) else {
            // A trailing backslash is dropped.
            break;
        };
        let digits = input[i..].iter().take(6).take_while(|&&c| is_hex(c)).count();
        if digits > 0 {
            let h = &input[i..i + digits];
            let (mut c, full_check) = match digits {
                1 => (hex_value(h[0]), false),
                2 | 3 => (x2c(h[digits - 2], h[digits - 1]), false),
                4 => (x2c(h[2], h[3]), true),
                5 => (x2c(h[3], h[4]), h[0] == b'0'),
                _ => (x2c(h[4], h[5]), h[0] == b'0' && h[1] == b'0'),
            };
            let is_f = |c: u8| c == b'f' || c == b'F';
            if full_check && c > 0x00 && c < 0x5f && is_f(h[digits - 3]) && is_f(h[digits - 4]) {
                c += 0x20;
            }
            out.push(c);
            i += digits;
            if input.get(i).is_some_and(|&c| is_c_space(c)) {
                i += 1;
            }
        } else if next == b'\n' {
            i += 1;
        } else {
            out.push(next);
            i += 1;
        }
    }
    owned_if_changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_escapes() {
        assert_eq!(&*css_decode(br"\1A\1 A\1234567\123456 7\1x"), b"\x1a\x01AV7V7\x01x");
        assert_eq!(&*css_decode(br"\ff01\ff5e\'"), b"!~'");
        assert_eq!(&*css_decode(b"a\\\nb\\"), b"ab");
    }
}
