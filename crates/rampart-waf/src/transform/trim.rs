//! `t:trim`, `t:trimLeft`, `t:trimRight`: strip C-locale whitespace (space, `\t`, `\n`, `\v`,
//! `\f`, `\r`) from the ends. NUL is not whitespace here, as in ModSecurity.

use std::borrow::Cow;

use super::is_c_space;

/// `t:trimLeft` — `SecRule ARGS:x "@beginsWith admin" "id:1,t:trimLeft"`.
pub fn trim_left(input: &[u8]) -> Cow<'_, [u8]> {
    let start = input.iter().position(|&c| !is_c_space(c)).unwrap_or(input.len());
    Cow::Borrowed(&input[start..])
}

/// `t:trimRight` — `SecRule ARGS:x "@endsWith .php" "id:1,t:trimRight"`.
pub fn trim_right(input: &[u8]) -> Cow<'_, [u8]> {
    let end = input.iter().rposition(|&c| !is_c_space(c)).map_or(0, |i| i + 1);
    Cow::Borrowed(&input[..end])
}

/// `t:trim` — both ends: `SecRule ARGS:x "@streq admin" "id:1,t:trim"`.
pub fn trim(input: &[u8]) -> Cow<'_, [u8]> {
    match trim_left(input) {
        Cow::Borrowed(left) => trim_right(left),
        // trim_left only ever borrows; keep the match total anyway.
        Cow::Owned(left) => Cow::Owned(trim_right(&left).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_c_whitespace_not_nul() {
        assert_eq!(&*trim(b" \t a \0 b \r\n"), b"a \0 b");
        assert_eq!(&*trim_left(b"   "), b"");
        assert_eq!(&*trim_right(b"   "), b"");
        assert_eq!(&*trim_right(b" x\x0b\x0c"), b" x");
    }
}
