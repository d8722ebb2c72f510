//! `@unconditionalMatch` (always true) and `@noMatch` (always false), for rules that only run
//! actions: `SecRule REQUEST_URI "@unconditionalMatch" "id:1,pass,setvar:tx.x=1"`.

use super::{Operator, OperatorContext};

#[derive(Debug)]
pub(crate) struct Always(pub(crate) bool);

impl Operator for Always {
    fn evaluate(&self, _ctx: &mut dyn OperatorContext, _input: &[u8]) -> bool {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn constant() {
        let mut ctx = Ctx::default();
        assert!(Always(true).evaluate(&mut ctx, b""));
        assert!(!Always(false).evaluate(&mut ctx, b"x"));
    }
}
