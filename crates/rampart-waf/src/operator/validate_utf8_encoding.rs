//! `@validateUtf8Encoding`: matches when the input is not well-formed UTF-8 (RFC 3629):
//! truncated or invalid sequences, overlong forms, surrogates, code points above U+10FFFF —
//! the cases ModSecurity's checker reports.
//! `SecRule ARGS "@validateUtf8Encoding" "id:920250,block,t:urlDecodeUni"`.

use super::{Operator, OperatorContext};

#[derive(Debug)]
pub(crate) struct ValidateUtf8Encoding;

impl Operator for ValidateUtf8Encoding {
    fn evaluate(&self, _ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        std::str::from_utf8(input).is_err()
    }

    /// ASCII is valid UTF-8: only a value with a byte from 0x80 up can fail.
    fn required_bytes(&self) -> Option<crate::transform::ByteSet> {
        Some([0, 0, u64::MAX, u64::MAX])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn utf8() {
        let mut ctx = Ctx::default();
        assert!(!ValidateUtf8Encoding.evaluate(&mut ctx, "Ünïcødé ✓".as_bytes()));
        for bad in [&b"\xc3"[..], b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xff"] {
            assert!(ValidateUtf8Encoding.evaluate(&mut ctx, bad));
        }
    }
}
