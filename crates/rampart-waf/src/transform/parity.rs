//! `t:parityEven7bit`, `t:parityOdd7bit`, `t:parityZero7bit`: treat each byte as 7 data bits
//! and set (or clear) the top bit as a parity bit. Used against data that travelled over
//! 7-bit links with parity; kept for completeness of the SecLang set.

use std::borrow::Cow;

use super::owned_if_changed;

fn map(input: &[u8], f: impl Fn(u8) -> u8) -> Cow<'_, [u8]> {
    if input.iter().all(|&c| f(c) == c) {
        return Cow::Borrowed(input);
    }
    owned_if_changed(input, input.iter().map(|&c| f(c)).collect())
}

/// `t:parityEven7bit` — `SecRule ARGS "@rx ..." "id:1,t:parityEven7bit"`.
pub fn parity_even_7bit(input: &[u8]) -> Cow<'_, [u8]> {
    map(input, |c| {
        let low = c & 0x7f;
        if low.count_ones() % 2 == 1 { low | 0x80 } else { low }
    })
}

/// `t:parityOdd7bit` — `SecRule ARGS "@rx ..." "id:1,t:parityOdd7bit"`.
pub fn parity_odd_7bit(input: &[u8]) -> Cow<'_, [u8]> {
    map(input, |c| {
        let low = c & 0x7f;
        if low.count_ones() % 2 == 0 { low | 0x80 } else { low }
    })
}

/// `t:parityZero7bit` — clears the top bit: `SecRule ARGS "@rx ..." "id:1,t:parityZero7bit"`.
pub fn parity_zero_7bit(input: &[u8]) -> Cow<'_, [u8]> {
    map(input, |c| c & 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_bits() {
        assert_eq!(&*parity_even_7bit(b"a"), b"\xe1");
        assert_eq!(&*parity_odd_7bit(b"c"), b"\xe3");
        assert_eq!(&*parity_zero_7bit(b"\x80\xff"), b"\x00\x7f");
    }
}
