//! `@verifyCC`: a credit-card number — a regex candidate whose digits pass the Luhn check.
//! `SecRule RESPONSE_BODY "@verifyCC \d{13,16}" "id:1,phase:4,block,capture"`.

use super::verify::{self, digits};
use super::{Operator, OperatorError};

pub(crate) fn build(param: &str) -> Result<Box<dyn Operator>, OperatorError> {
    verify::build("verifyCC", param, luhn)
}

/// Luhn mod-10 over the digits (other bytes ignored); no digits is not a number.
fn luhn(candidate: &[u8]) -> bool {
    let d = digits(candidate);
    if d.is_empty() {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &v)| if i % 2 == 1 { if v * 2 > 9 { v * 2 - 9 } else { v * 2 } } else { v })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn luhn_numbers() {
        assert!(luhn(b"4111 1111 1111 1111"));
        assert!(!luhn(b"4111111111111112"));
        let mut ctx = Ctx::default();
        assert!(build(r"\d{13,16}").is_ok_and(|op| op.evaluate(&mut ctx, b"card: 4012888888881881.")));
    }
}
