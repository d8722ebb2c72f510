//! `t:md5` and `t:sha1`: the raw (binary, not hex) digest of the value, as ModSecurity returns
//! it; rules usually follow with `t:hexEncode`.

use std::borrow::Cow;

use ::md5::Digest as _;

use super::owned_if_changed;

/// `t:md5` — `SecRule ARGS "@streq ..." "id:1,t:md5,t:hexEncode"`.
pub fn md5(input: &[u8]) -> Cow<'_, [u8]> {
    owned_if_changed(input, ::md5::Md5::digest(input).to_vec())
}

/// `t:sha1` — `SecRule REQUEST_COOKIES "@streq ..." "id:1,t:sha1,t:hexEncode"`.
pub fn sha1(input: &[u8]) -> Cow<'_, [u8]> {
    owned_if_changed(input, ::sha1::Sha1::digest(input).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_digests() {
        assert_eq!(md5(b"").len(), 16);
        assert_eq!(&sha1(b"")[..4], &[0xda, 0x39, 0xa3, 0xee]);
    }
}
