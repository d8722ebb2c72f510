//! `@beginsWith`: the input starts with the parameter; an empty parameter always matches.
//! `SecRule REQUEST_LINE "!@beginsWith GET /" "id:1"`.

use super::param::Param;
use super::strings::StringOperator;
use super::Operator;

pub(crate) fn build(param: &str) -> Box<dyn Operator> {
    Box::new(StringOperator { name: "beginsWith", param: Param::new(param), test: |input, p| input.starts_with(p) })
}

#[cfg(test)]
mod tests {
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn prefix() {
        let mut ctx = Ctx::default();
        assert!(super::build("ab").evaluate(&mut ctx, b"abc"));
        assert!(!super::build("abc").evaluate(&mut ctx, b"ab"));
        assert!(super::build("").evaluate(&mut ctx, b""));
    }
}
