//! `t:lowercase` and `t:uppercase`: ASCII case folding, byte by byte (ModSecurity uses C's
//! `tolower`/`toupper` in the "C" locale, so bytes above 0x7f are left alone).

use std::borrow::Cow;

/// `t:lowercase` — `SecRule REQUEST_METHOD "@streq post" "id:1,t:lowercase"`.
pub fn lowercase(input: &[u8]) -> Cow<'_, [u8]> {
    if input.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(input.to_ascii_lowercase())
    } else {
        Cow::Borrowed(input)
    }
}

/// `t:uppercase` — `SecRule ARGS "@streq ADMIN" "id:1,t:uppercase"`.
pub fn uppercase(input: &[u8]) -> Cow<'_, [u8]> {
    if input.iter().any(u8::is_ascii_lowercase) {
        Cow::Owned(input.to_ascii_uppercase())
    } else {
        Cow::Borrowed(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_ascii_only() {
        assert_eq!(&*lowercase(b"TeSt\xc3\x80"), b"test\xc3\x80");
        assert!(matches!(lowercase(b"abc"), Cow::Borrowed(_)));
        assert_eq!(&*uppercase(b"abc\x00d"), b"ABC\x00D");
    }
}
