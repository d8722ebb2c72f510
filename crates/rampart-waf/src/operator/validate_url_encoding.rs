//! `@validateUrlEncoding`: matches when the input holds an invalid URL escape — a `%` not
//! followed by two hex digits. Run it on raw (not yet decoded) data:
//! `SecRule REQUEST_URI_RAW "@validateUrlEncoding" "id:920220,block"`.

use super::{Operator, OperatorContext};

#[derive(Debug)]
pub(crate) struct ValidateUrlEncoding;

impl Operator for ValidateUrlEncoding {
    fn evaluate(&self, _ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        let mut i = 0;
        while i < input.len() {
            if input[i] == b'%' {
                let ok = input.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && input.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
                if !ok {
                    return true;
                }
                i += 3;
            } else {
                i += 1;
            }
        }
        false
    }

    /// Only a `%` can start a bad escape.
    fn required_bytes(&self) -> Option<crate::transform::ByteSet> {
        Some(crate::transform::byte_set(b"%"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn escapes() {
        let mut ctx = Ctx::default();
        for bad in [&b"%"[..], b"%0", b"%0z", b"a%zz", b"%20%"] {
            assert!(ValidateUrlEncoding.evaluate(&mut ctx, bad));
        }
        for good in [&b""[..], b"a+b", b"%ff%00", b"100%25"] {
            assert!(!ValidateUrlEncoding.evaluate(&mut ctx, good));
        }
    }
}
