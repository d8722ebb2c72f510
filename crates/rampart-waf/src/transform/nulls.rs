//! `t:removeNulls` and `t:replaceNulls`: NUL bytes are a classic way to split a keyword past a
//! naive matcher (`un\0ion`), so rules either drop them or turn them into spaces.

use std::borrow::Cow;

/// `t:removeNulls` — `SecRule ARGS "@rx union" "id:1,t:removeNulls"`.
pub fn remove_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&0) {
        return Cow::Borrowed(input);
    }
    // Sized once: a filtered iterator's collect would grow the vector step by step.
    let mut out = Vec::with_capacity(input.len());
    out.extend(input.iter().copied().filter(|&c| c != 0));
    Cow::Owned(out)
}

/// `t:replaceNulls` — each NUL becomes a space: `SecRule ARGS "@rx a b" "id:1,t:replaceNulls"`.
pub fn replace_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&0) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.iter().map(|&c| if c == 0 { b' ' } else { c }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls() {
        assert_eq!(&*remove_nulls(b"\0a\0\0b\0"), b"ab");
        assert_eq!(&*replace_nulls(b"\0a\0"), b" a ");
        assert!(matches!(remove_nulls(b"ab"), Cow::Borrowed(_)));
    }
}
