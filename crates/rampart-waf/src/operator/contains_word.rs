//! `@containsWord`: the parameter occurs in the input as a whole word — the bytes on either
//! side are absent or not ASCII letters. Digits and `_` count as boundaries, as in
//! ModSecurity v3 (so `def` is a word in `abc0def`). An empty parameter always matches.
//! `SecRule ARGS "@containsWord select" "id:1"`.

use super::param::Param;
use super::strings::{find, StringOperator};
use super::Operator;

pub(crate) fn build(param: &str) -> Box<dyn Operator> {
    Box::new(StringOperator { name: "containsWord", param: Param::new(param), test: contains_word })
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

fn contains_word(input: &[u8], word: &[u8]) -> bool {
    if word.is_empty() {
        return true;
    }
    let mut from = 0;
    while let Some(found) = find(&input[from..], word) {
        let start = from + found;
        let end = start + word.len();
        let before_ok = start == 0 || !is_word(input[start - 1]);
        let after_ok = end == input.len() || !is_word(input[end]);
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_boundaries() {
        assert!(contains_word(b"abc def ghi", b"def"));
        assert!(!contains_word(b"abcdefghi", b"def"));
        assert!(contains_word(b"hidingX hiding", b"hiding"));
        assert!(!contains_word(b"", b"x"));
        assert!(contains_word(br"abc\0def", b"def"));
        assert!(contains_word(b"x_select_1", b"select"));
    }
}
