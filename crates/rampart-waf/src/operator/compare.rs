//! The numeric comparison family `@eq`, `@ge`, `@gt`, `@le`, `@lt` (one file: they differ only
//! in the comparison). Both sides are read like C's `atoi`, as ModSecurity does — text that is
//! not a number counts as 0 — and the parameter may be a macro:
//! `SecRule TX:BLOCKING_INBOUND_ANOMALY_SCORE "@ge %{tx.inbound_anomaly_score_threshold}" "id:949110"`.

use std::fmt;

use super::param::{atoi, Param};
use super::{Operator, OperatorContext};

/// Which comparison: `input <op> param`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cmp {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

pub(crate) struct Compare {
    cmp: Cmp,
    param: Param,
    /// The parameter's value when it has no macro, parsed once at load.
    fixed: Option<i64>,
}

impl fmt::Debug for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{:?} {:?}", self.cmp, self.param.raw())
    }
}

pub(crate) fn build(cmp: Cmp, param: &str) -> Box<dyn Operator> {
    let param = Param::new(param);
    let fixed = (!param.has_macro()).then(|| atoi(param.raw().as_bytes()));
    Box::new(Compare { cmp, param, fixed })
}

impl Operator for Compare {
    fn evaluate(&self, ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        let wanted = match self.fixed {
            Some(v) => v,
            None => atoi(self.param.resolve(&*ctx).as_bytes()),
        };
        let got = atoi(input);
        match self.cmp {
            Cmp::Eq => got == wanted,
            Cmp::Ge => got >= wanted,
            Cmp::Gt => got > wanted,
            Cmp::Le => got <= wanted,
            Cmp::Lt => got < wanted,
        }
    }

    fn macros_mut(&mut self) -> Option<&mut crate::parser::macros::MacroText> {
        self.param.macros_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn compares_like_atoi() {
        let mut ctx = Ctx::default();
        assert!(build(Cmp::Eq, "0").evaluate(&mut ctx, b"xxx"));
        assert!(build(Cmp::Gt, "-1").evaluate(&mut ctx, b"xxx"));
        assert!(build(Cmp::Lt, "5").evaluate(&mut ctx, b"0"));
        let op = build(Cmp::Ge, "%{tx.t}");
        ctx.vars.push(("tx.t".into(), "5".into()));
        assert!(op.evaluate(&mut ctx, b"7"));
        assert!(!op.evaluate(&mut ctx, b"4"));
    }
}
