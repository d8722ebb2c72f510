//! `@within`: the *input* occurs in the parameter — the reverse of `@contains`. As in
//! ModSecurity this is a substring test, not a token test (`GE` is "within" `GET POST`), so the
//! CRS lists are written with that in mind. An empty input always matches.
//! `SecRule REQUEST_METHOD "!@within %{tx.allowed_methods}" "id:911100"`.

use super::param::Param;
use super::strings::{find, StringOperator};
use super::Operator;

pub(crate) fn build(param: &str) -> Box<dyn Operator> {
    Box::new(StringOperator { name: "within", param: Param::new(param), test: |input, p| find(p, input).is_some() })
}

#[cfg(test)]
mod tests {
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn reverse_substring() {
        let mut ctx = Ctx::default();
        let op = super::build("%{tx.allowed_methods}");
        ctx.vars.push(("tx.allowed_methods".into(), "GET HEAD POST".into()));
        assert!(op.evaluate(&mut ctx, b"HEAD"));
        assert!(!op.evaluate(&mut ctx, b"DELETE"));
        assert!(op.evaluate(&mut ctx, b""));
    }
}
