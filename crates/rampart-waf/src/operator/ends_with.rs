//! `@endsWith`: the input ends with the parameter; an empty parameter always matches.
//! `SecRule REQUEST_FILENAME "@endsWith .php" "id:1"`.

use super::param::Param;
use super::strings::StringOperator;
use super::Operator;

pub(crate) fn build(param: &str) -> Box<dyn Operator> {
    Box::new(StringOperator { name: "endsWith", param: Param::new(param), test: |input, p| input.ends_with(p) })
}

#[cfg(test)]
mod tests {
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn suffix() {
        let mut ctx = Ctx::default();
        assert!(super::build("bc").evaluate(&mut ctx, b"abc"));
        assert!(!super::build("abcd").evaluate(&mut ctx, b"bcd"));
    }
}
