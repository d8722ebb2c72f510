//! `@validateByteRange`: matches when the input holds a byte *outside* the allowed ranges
//! (comma-separated values or `a-b` ranges, 0..=255). Numbers are read like C's `atoi`, as
//! ModSecurity does, so junk counts as 0. Empty input never matches.
//! The operator itself reports the violation, so rules use it without negation:
//! `SecRule ARGS "@validateByteRange 32-126" "id:920270,block"`.

use std::fmt;

use super::param::atoi;
use super::{Operator, OperatorContext, OperatorError};

pub(crate) struct ValidateByteRange {
    allowed: [bool; 256],
}

impl fmt::Debug for ValidateByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@validateByteRange ({} bytes allowed)", self.allowed.iter().filter(|&&a| a).count())
    }
}

pub(crate) fn build(param: &str) -> Result<Box<dyn Operator>, OperatorError> {
    let invalid = |why: String| OperatorError::InvalidArgument { name: "validateByteRange".into(), why };
    let mut allowed = [false; 256];
    for token in param.split(',') {
        let token = token.trim();
        let (lo, hi) = match token.split_once('-') {
            Some((a, b)) => (atoi(a.as_bytes()), atoi(b.as_bytes())),
            None => (atoi(token.as_bytes()), atoi(token.as_bytes())),
        };
        if !(0..=255).contains(&lo) || !(0..=255).contains(&hi) || lo > hi {
            return Err(invalid(format!("`{token}` is not a byte value or range within 0-255")));
        }
        for b in lo..=hi {
            allowed[b as usize] = true;
        }
    }
    Ok(Box::new(ValidateByteRange { allowed }))
}

impl Operator for ValidateByteRange {
    fn evaluate(&self, _ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        input.iter().any(|&c| !self.allowed[usize::from(c)])
    }

    /// A byte outside the ranges: what a match is.
    fn required_bytes(&self) -> Option<crate::transform::ByteSet> {
        let mut set = [0u64; 4];
        for b in (0..=u8::MAX).filter(|&b| !self.allowed[usize::from(b)]) {
            set[usize::from(b >> 6)] |= 1 << (b & 63);
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn ranges() {
        let mut ctx = Ctx::default();
        let op = build("9,10,13,32-126");
        assert!(op.as_ref().is_ok_and(|op| !op.evaluate(&mut ctx, b"a b\r\n")));
        assert!(op.is_ok_and(|op| op.evaluate(&mut ctx, b"a\x00")));
        assert!(build("1-300").is_err());
        assert!(build("20-10").is_err());
    }
}
