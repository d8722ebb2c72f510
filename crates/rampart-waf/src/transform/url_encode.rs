//! `t:urlEncode`: percent-encodes every byte except ASCII letters, digits and `*`; a space
//! becomes `+`. Lowercase hex, as ModSecurity writes it.

use std::borrow::Cow;

use super::owned_if_changed;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `t:urlEncode` — `SecRule ARGS "@streq a%3db" "id:1,t:urlEncode"`.
pub fn url_encode(input: &[u8]) -> Cow<'_, [u8]> {
    let keep = |c: u8| c.is_ascii_alphanumeric() || c == b'*';
    if input.iter().all(|&c| keep(c)) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() * 3);
    for &c in input {
        if keep(c) {
            out.push(c);
        } else if c == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 0x0f)]]);
        }
    }
    owned_if_changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes() {
        assert_eq!(&*url_encode(b"a b~*%\xc3"), b"a+b%7e*%25%c3");
    }
}
