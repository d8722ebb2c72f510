//! Shared scan for the `@verify*` operators (`@verifyCC`, `@verifyCPF`, `@verifySSN`,
//! `@verifySVNR`): a regex finds candidates, a checksum decides. Like ModSecurity, candidates
//! are tried from every start offset, so a failing candidate does not hide a valid one that
//! overlaps it. With `capture`, the valid candidate goes to `TX.0`.

use std::fmt;

use regex::bytes::Regex;

use super::{rx, Operator, OperatorContext, OperatorError};

pub(crate) struct Verify {
    name: &'static str,
    regex: Regex,
    check: fn(&[u8]) -> bool,
}

impl fmt::Debug for Verify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{} {:?}", self.name, self.regex.as_str())
    }
}

pub(crate) fn build(name: &'static str, param: &str, check: fn(&[u8]) -> bool) -> Result<Box<dyn Operator>, OperatorError> {
    Ok(Box::new(Verify { name, regex: rx::compile(name, param)?, check }))
}

impl Operator for Verify {
    fn evaluate(&self, ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        let mut offset = 0;
        while offset <= input.len() {
            let Some(m) = self.regex.find_at(input, offset) else { break };
            if (self.check)(m.as_bytes()) {
                if ctx.capturing() {
                    ctx.set_capture(0, m.as_bytes());
                }
                return true;
            }
            offset = m.start() + 1;
        }
        false
    }
}

/// The decimal digits of `text`, as numbers.
pub(crate) fn digits(text: &[u8]) -> Vec<u32> {
    text.iter().filter(|c| c.is_ascii_digit()).map(|&c| u32::from(c - b'0')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn tries_overlapping_candidates() {
        // The leftmost candidate "12345" fails the check; the overlapping "2345" passes.
        let op = build("verifyTest", r"\d{4,5}", |c| c.first() == Some(&b'2'));
        let mut ctx = Ctx { capture: true, ..Ctx::default() };
        assert!(op.is_ok_and(|op| op.evaluate(&mut ctx, b"x12345")));
        assert_eq!(ctx.captures, vec![(0, b"2345".to_vec())]);
        assert_eq!(digits(b"1-2 3"), vec![1, 2, 3]);
    }
}
