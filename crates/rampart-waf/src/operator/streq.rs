//! `@streq`: the input equals the parameter exactly (case-sensitive; add `t:lowercase` for
//! the other kind). Macros allowed: `SecRule REQUEST_HEADERS:Host "!@streq %{tx.host}" "id:1"`.

use super::param::Param;
use super::strings::StringOperator;
use super::Operator;

pub(crate) fn build(param: &str) -> Box<dyn Operator> {
    Box::new(StringOperator { name: "streq", param: Param::new(param), test: |input, p| input == p })
}

#[cfg(test)]
mod tests {
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn exact() {
        let op = super::build("abc");
        let mut ctx = Ctx::default();
        assert!(op.evaluate(&mut ctx, b"abc"));
        assert!(!op.evaluate(&mut ctx, b"abcd"));
        let op = super::build("%{tx.m}");
        ctx.vars.push(("tx.m".into(), "POST".into()));
        assert!(op.evaluate(&mut ctx, b"POST"));
    }
}
