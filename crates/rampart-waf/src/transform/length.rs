//! `t:length`: replaces the value with its length in bytes, as decimal text.

use std::borrow::Cow;

use super::owned_if_changed;

/// `t:length` — `SecRule ARGS "@gt 400" "id:1,t:length"`.
pub fn length(input: &[u8]) -> Cow<'_, [u8]> {
    owned_if_changed(input, input.len().to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes() {
        assert_eq!(&*length(b""), b"0");
        assert_eq!(&*length(b"a\0b"), b"3");
    }
}
