//! `t:hexDecode`, `t:hexEncode` and `t:sqlHexDecode`.

use std::borrow::Cow;

use super::{is_hex, owned_if_changed, x2c};

/// `t:hexDecode` — pairs of hex digits to bytes. Like ModSecurity it does not validate the
/// digits (`"0z"` gives `#`) and drops an odd trailing character:
/// `SecRule ARGS:data "@contains <script" "id:1,t:hexDecode"`.
pub fn hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let out = input.chunks_exact(2).map(|pair| x2c(pair[0], pair[1])).collect();
    owned_if_changed(input, out)
}

/// `t:hexEncode` — each byte as two lowercase hex digits:
/// `SecRule ARGS "@streq 414243" "id:1,t:hexEncode"`.
pub fn hex_encode(input: &[u8]) -> Cow<'_, [u8]> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(input.len() * 2);
    for &c in input {
        out.push(HEX[usize::from(c >> 4)]);
        out.push(HEX[usize::from(c & 0x0f)]);
    }
    owned_if_changed(input, out)
}

/// `t:sqlHexDecode` — decodes SQL hex literals (`0x414243` → `ABC`) in place, leaving the rest
/// of the text alone: `SecRule ARGS "@rx union" "id:1,t:sqlHexDecode"`.
pub fn sql_hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let starts_literal = |i: usize| {
        input[i] == b'0'
            && matches!(input.get(i + 1), Some(b'x' | b'X'))
            && input.get(i + 2).is_some_and(|&c| is_hex(c))
            && input.get(i + 3).is_some_and(|&c| is_hex(c))
    };
    if !(0..input.len()).any(starts_literal) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if starts_literal(i) {
            i += 2;
            while i + 1 < input.len() && is_hex(input[i]) && is_hex(input[i + 1]) {
                out.push(x2c(input[i], input[i + 1]));
                i += 2;
            }
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    owned_if_changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex() {
        assert_eq!(&*hex_decode(b"414z4"), b"Ac");
        assert_eq!(&*hex_encode(b"A\0"), b"4100");
        assert_eq!(&*sql_hex_decode(b"select 0x414243, 0x4"), b"select ABC, 0x4");
        assert_eq!(&*sql_hex_decode(b"0x41424"), b"AB4");
    }
}
