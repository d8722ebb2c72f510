//! `t:compressWhitespace` and `t:removeWhitespace`. Whitespace is C's `isspace` plus the
//! non-breaking space 0xA0, which ModSecurity also treats as a space here because browsers and
//! some back ends do.

use std::borrow::Cow;

use super::{is_c_space, owned_if_changed};

fn is_space(c: u8) -> bool {
    is_c_space(c) || c == 0xa0
}

/// `t:compressWhitespace` — every run of whitespace becomes one space:
/// `SecRule ARGS "@rx union select" "id:1,t:compressWhitespace"`.
pub fn compress_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    // Unchanged exactly when every whitespace byte is a lone ' '.
    let needs_work = input
        .iter()
        .enumerate()
        .any(|(i, &c)| is_space(c) && (c != b' ' || input.get(i + 1).is_some_and(|&n| is_space(n))));
    if !needs_work {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &c in input {
        if is_space(c) {
            if !in_space {
                out.push(b' ');
                in_space = true;
            }
        } else {
            out.push(c);
            in_space = false;
        }
    }
    owned_if_changed(input, out)
}

/// `t:removeWhitespace` — `SecRule ARGS "@contains unionselect" "id:1,t:removeWhitespace"`.
pub fn remove_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(|&c| is_space(c)) {
        return Cow::Borrowed(input);
    }
    // Sized once: a filtered iterator's collect would grow the vector step by step.
    let mut out = Vec::with_capacity(input.len());
    out.extend(input.iter().copied().filter(|&c| !is_space(c)));
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_runs_and_nbsp() {
        assert_eq!(&*compress_whitespace(b"  a \t\xa0 b "), b" a b ");
        assert!(matches!(compress_whitespace(b"a b c"), Cow::Borrowed(_)));
        assert_eq!(&*compress_whitespace(b"a\tb"), b"a b");
        assert_eq!(&*remove_whitespace(b" a\xa0b\0"), b"ab\0");
    }
}
