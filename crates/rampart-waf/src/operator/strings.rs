//! Shared shape of the plain string operators (`@streq`, `@beginsWith`, `@endsWith`,
//! `@contains`, `@containsWord`, `@within`, `@strmatch`): a parameter that may hold macros and
//! a byte-slice predicate. Each operator file supplies only its predicate and docs.

use std::fmt;

use super::param::Param;
use super::{Operator, OperatorContext};

/// A string operator: `test(input, param)`.
pub(crate) struct StringOperator {
    pub(crate) name: &'static str,
    pub(crate) param: Param,
    pub(crate) test: fn(&[u8], &[u8]) -> bool,
}

impl fmt::Debug for StringOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{} {:?}", self.name, self.param.raw())
    }
}

impl Operator for StringOperator {
    fn evaluate(&self, ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        let param = self.param.resolve(&*ctx);
        (self.test)(input, param.as_bytes())
    }

    fn macros_mut(&mut self) -> Option<&mut crate::parser::macros::MacroText> {
        self.param.macros_mut()
    }
}

/// Byte-slice substring search (`memmem`).
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_bytes() {
        assert_eq!(find(b"abc", b""), Some(0));
        assert_eq!(find(b"abcabc", b"ca"), Some(2));
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(find(b"a\0b\xff", b"\0b\xff"), Some(1));
    }
}
