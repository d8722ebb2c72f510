//! `t:base64Decode`, `t:base64DecodeExt` and `t:base64Encode`.
//!
//! The decoders are forgiving, because a WAF must look at what the application will see, not
//! reject the request: `base64Decode` stops at the first byte outside the alphabet (a NUL, a
//! space, `=`), `base64DecodeExt` skips such bytes and carries on (ModSecurity's
//! `decode_forgiven`), which defeats payloads split by junk (`P.HNjcmlwdD4=`).

use std::borrow::Cow;

use super::owned_if_changed;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

fn decode(input: &[u8], skip_invalid: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in input {
        if c == b'=' {
            break;
        }
        let Some(v) = sextet(c) else {
            if skip_invalid {
                continue;
            }
            break;
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// `t:base64Decode` — `SecRule REQUEST_HEADERS:Authorization "@contains admin" "id:1,t:base64Decode"`.
pub fn base64_decode(input: &[u8]) -> Cow<'_, [u8]> {
    owned_if_changed(input, decode(input, false))
}

/// `t:base64DecodeExt` — `SecRule ARGS "@contains <script" "id:1,t:base64DecodeExt"`.
pub fn base64_decode_ext(input: &[u8]) -> Cow<'_, [u8]> {
    owned_if_changed(input, decode(input, true))
}

/// `t:base64Encode` — standard alphabet with `=` padding:
/// `SecRule ARGS "@streq dGVzdA==" "id:1,t:base64Encode"`.
pub fn base64_encode(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 0x3f) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    owned_if_changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_forgiveness() {
        assert_eq!(&*base64_encode(b"TestCase12"), b"VGVzdENhc2UxMg==");
        assert_eq!(&*base64_encode(b"TestCase1"), b"VGVzdENhc2Ux");
        assert_eq!(&*base64_decode(b"VGVzdENhc2UxMg=="), b"TestCase12");
        assert_eq!(&*base64_decode(b"VGVzdENhc2U=\0VGVz"), b"TestCase");
        assert_eq!(&*base64_decode_ext(b"P.HNjcmlwdD4="), b"<script>");
        assert_eq!(&*base64_decode(b"!"), b"");
    }
}
