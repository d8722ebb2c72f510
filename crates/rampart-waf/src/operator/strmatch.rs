//! `@strmatch`: like `@contains` (ModSecurity implements it with Boyer-Moore-Horspool; the
//! answer is the same, only the search algorithm differs).
//! `SecRule ARGS "@strmatch WebZIP" "id:1"`.

use super::param::Param;
use super::strings::{find, StringOperator};
use super::Operator;

pub(crate) fn build(param: &str) -> Box<dyn Operator> {
    Box::new(StringOperator { name: "strmatch", param: Param::new(param), test: |input, p| find(input, p).is_some() })
}

#[cfg(test)]
mod tests {
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn substring() {
        let mut ctx = Ctx::default();
        assert!(super::build("ghi").evaluate(&mut ctx, b"abcdefghi"));
        assert!(!super::build("ghij").evaluate(&mut ctx, b"abcdefghi"));
    }
}
