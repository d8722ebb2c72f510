//! `@pm`: phrase match — any of a space-separated list of phrases occurs in the input,
//! case-insensitively (ASCII), found with one Aho-Corasick pass however long the list.
//! `SecRule REQUEST_HEADERS:User-Agent "@pm nikto sqlmap" "id:1,capture"`.
//!
//! The list may be wrapped in double quotes and may hold `|HH HH|` hex blocks, as
//! ModSecurity's `parse_pm_content` allows. With `capture`, the matched phrase as written in
//! the list (not as cased in the input) goes to `TX.0`, as ModSecurity's `acmp` reports it.

use std::fmt;

use aho_corasick::AhoCorasick;

use super::{Operator, OperatorContext, OperatorError};

/// A built phrase matcher, shared by `@pm` and `@pmFromFile`.
pub(crate) struct PhraseMatch {
    /// `None` for an empty phrase list, which never matches.
    matcher: Option<AhoCorasick>,
    /// The phrases, indexed like the matcher's patterns (for `TX.0`).
    phrases: Vec<Vec<u8>>,
}

impl fmt::Debug for PhraseMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@pm ({} phrases)", self.phrases.len())
    }
}

impl PhraseMatch {
    pub(crate) fn new(name: &str, phrases: &[Vec<u8>]) -> Result<Self, OperatorError> {
        let phrases: Vec<Vec<u8>> = phrases.iter().filter(|p| !p.is_empty()).cloned().collect();
        if phrases.is_empty() {
            return Ok(PhraseMatch { matcher: None, phrases });
        }
        let matcher = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&phrases)
            .map_err(|e| OperatorError::InvalidArgument { name: name.to_string(), why: e.to_string() })?;
        Ok(PhraseMatch { matcher: Some(matcher), phrases })
    }
}

impl Operator for PhraseMatch {
    fn evaluate(&self, ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        let Some(matcher) = &self.matcher else { return false };
        match matcher.find(input) {
            Some(m) => {
                if ctx.capturing() {
                    let phrase = self.phrases.get(m.pattern().as_usize()).map_or(&input[m.start()..m.end()], Vec::as_slice);
                    ctx.set_capture(0, phrase);
                }
                true
            }
            None => false,
        }
    }

    /// The phrases themselves: a match is one of them, ASCII case aside.
    fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        Some(self.phrases.iter().map(|p| p.to_ascii_lowercase()).collect())
    }
}

/// Split a `@pm` parameter into phrases: strip one pair of surrounding quotes, decode `|HH|`
/// hex blocks, then split on whitespace.
pub(crate) fn parse_phrases(param: &str) -> Vec<Vec<u8>> {
    let mut text = param.as_bytes();
    if let Some(inner) = text.strip_prefix(b"\"") {
        text = inner.strip_suffix(b"\"").unwrap_or(inner);
    }
    let mut decoded = Vec::with_capacity(text.len());
    let mut in_hex = false;
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if c == b'|' {
            in_hex = !in_hex;
            i += 1;
        } else if in_hex && c.is_ascii_hexdigit() && text.get(i + 1).is_some_and(u8::is_ascii_hexdigit) {
            decoded.push(crate::transform::x2c(c, text[i + 1]));
            i += 2;
        } else if in_hex && c == b' ' {
            i += 1;
        } else {
            decoded.push(c);
            i += 1;
        }
    }
    decoded
        .split(|c| c.is_ascii_whitespace())
        .filter(|p| !p.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

pub(crate) fn build(param: &str) -> Result<Box<dyn Operator>, OperatorError> {
    Ok(Box::new(PhraseMatch::new("pm", &parse_phrases(param))?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn phrases_case_insensitive() {
        let mut ctx = Ctx { capture: true, ..Ctx::default() };
        let op = build("abc def ghi");
        assert!(op.as_ref().is_ok_and(|op| op.evaluate(&mut ctx, b"xxDEFyy")));
        assert_eq!(ctx.captures, vec![(0, b"def".to_vec())]);
        assert!(op.is_ok_and(|op| !op.evaluate(&mut ctx, b"xyz")));
    }

    #[test]
    fn quotes_and_hex() {
        assert_eq!(parse_phrases("\"a |41 42| c\""), vec![b"a".to_vec(), b"AB".to_vec(), b"c".to_vec()]);
        let mut ctx = Ctx::default();
        assert!(build("").is_ok_and(|op| !op.evaluate(&mut ctx, b"anything")));
    }
}
