//! `t:urlDecode` and `t:urlDecodeUni`: the non-strict URL decoders. Invalid escapes (`%zz`,
//! a lone `%`) are copied through unchanged instead of failing, so an attacker cannot hide a
//! payload behind one bad escape; `+` becomes a space.

use std::borrow::Cow;

use super::{is_hex, owned_if_changed, x2c};

/// `t:urlDecode` — `SecRule ARGS "@rx <script" "id:1,t:urlDecode"`.
pub fn url_decode(input: &[u8]) -> Cow<'_, [u8]> {
    decode(input, false)
}

/// `t:urlDecodeUni` — also decodes IIS-style `%uXXXX`, keeping the low byte; full-width ASCII
/// (`%uff01`..`%uff5e`) is folded to ASCII, as IIS does:
/// `SecRule ARGS "@rx <script" "id:1,t:urlDecodeUni"`.
pub fn url_decode_uni(input: &[u8]) -> Cow<'_, [u8]> {
    decode(input, true)
}

fn decode(input: &[u8], uni: bool) -> Cow<'_, [u8]> {
    if !input.iter().any(|&c| c == b'%' || c == b'+') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let rest = &input[i + 1..];
                if uni && matches!(rest.first(), Some(b'u' | b'U')) {
                    if rest.len() >= 5 && rest[1..5].iter().all(|&c| is_hex(c)) {
                        let mut c = x2c(rest[3], rest[4]);
                        let full_width = matches!(rest[1], b'f' | b'F') && matches!(rest[2], b'f' | b'F');
                        if full_width && c > 0x00 && c < 0x5f {
                            c += 0x20;
                        }
                        out.push(c);
                        i += 6;
                    } else {
                        out.push(b'%');
                        i += 1;
                    }
                } else if rest.len() >= 2 && is_hex(rest[0]) && is_hex(rest[1]) {
                    out.push(x2c(rest[0], rest[1]));
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    owned_if_changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_escapes_pass_through() {
        assert_eq!(&*url_decode(b"%%20%0g%"), b"% %0g%");
        assert_eq!(&*url_decode(b"a+b%41"), b"a bA");
        assert!(matches!(url_decode(b"%zz"), Cow::Borrowed(_)));
    }

    #[test]
    fn unicode_escapes() {
        assert_eq!(&*url_decode_uni(b"%u0041%uff01%uFF5e%u1100"), b"A!~\x00");
        assert_eq!(&*url_decode_uni(b"%u%u00%u000g"), b"%u%u00%u000g");
        assert_eq!(&*url_decode(b"%u0041"), b"%u0041");
    }
}
