//! `@contains`: the parameter occurs anywhere in the input; an empty parameter always matches.
//! `SecRule REQUEST_URI "@contains /etc/passwd" "id:1"`.

use super::param::Param;
use super::strings::{find, StringOperator};
use super::Operator;

pub(crate) fn build(param: &str) -> Box<dyn Operator> {
    Box::new(StringOperator { name: "contains", param: Param::new(param), test: |input, p| find(input, p).is_some() })
}

#[cfg(test)]
mod tests {
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn substring() {
        let mut ctx = Ctx::default();
        assert!(super::build("def").evaluate(&mut ctx, b"abcdefghi"));
        assert!(!super::build("x").evaluate(&mut ctx, b""));
        assert!(super::build("").evaluate(&mut ctx, b"abc"));
    }
}
