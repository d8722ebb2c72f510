//! Operator parameters that may hold macros (`@streq %{tx.host}`): kept as text and expanded
//! through the transaction at evaluation time; a parameter without `%{` is used as is.

use std::borrow::Cow;

use super::OperatorContext;
use crate::parser::macros::MacroText;

/// An operator parameter, possibly with `%{collection.key}` macros.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    text: String,
    /// The text parsed into literals and macros, when it has a macro (parsed once, at load).
    parsed: Option<MacroText>,
}

impl Param {
    pub(crate) fn new(text: &str) -> Self {
        Param { text: text.to_string(), parsed: text.contains("%{").then(|| MacroText::parse(text)) }
    }

    /// True when the value depends on the transaction (so nothing may be precompiled from it).
    pub(crate) fn has_macro(&self) -> bool {
        self.parsed.is_some()
    }

    /// The parsed macros, if any (see [`super::Operator::macros_mut`]).
    pub(crate) fn macros_mut(&mut self) -> Option<&mut MacroText> {
        self.parsed.as_mut()
    }

    /// The text as written in the rule.
    pub(crate) fn raw(&self) -> &str {
        &self.text
    }

    /// The value for this evaluation: macros expanded, borrowed when there are none.
    pub(crate) fn resolve<'a>(&'a self, ctx: &dyn OperatorContext) -> Cow<'a, str> {
        match &self.parsed {
            Some(parsed) => ctx.expand_parsed(parsed, &self.text),
            None => Cow::Borrowed(&self.text),
        }
    }
}

/// C's `atoi`: optional leading whitespace and sign, then digits; anything else ends the
/// number, and no digits at all gives 0. ModSecurity's numeric operators parse both sides this
/// way, so `@eq 0` matches `"xxx"`. Saturates instead of overflowing.
pub(crate) fn atoi(text: &[u8]) -> i64 {
    let mut i = text.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')).count();
    let negative = match text.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut value: i64 = 0;
    for &c in text[i..].iter().take_while(|c| c.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if negative { -value } else { value }
}

#[cfg(test)]
pub(crate) mod test_ctx {
    //! A minimal [`OperatorContext`] for unit tests.
    use std::borrow::Cow;

    use crate::operator::OperatorContext;

    #[derive(Default)]
    pub(crate) struct Ctx {
        pub(crate) capture: bool,
        pub(crate) captures: Vec<(usize, Vec<u8>)>,
        pub(crate) vars: Vec<(String, String)>,
    }

    impl OperatorContext for Ctx {
        fn expand<'a>(&self, text: &'a str) -> Cow<'a, str> {
            let mut out = text.to_string();
            for (k, v) in &self.vars {
                out = out.replace(&format!("%{{{k}}}"), v);
            }
            Cow::Owned(out)
        }
        fn capturing(&self) -> bool {
            self.capture
        }
        fn set_capture(&mut self, index: usize, value: &[u8]) {
            self.captures.push((index, value.to_vec()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi(b"  -12abc"), -12);
        assert_eq!(atoi(b"xxx"), 0);
        assert_eq!(atoi(b"+7"), 7);
        assert_eq!(atoi(b"99999999999999999999999"), i64::MAX);
    }
}
