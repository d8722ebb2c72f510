//! `@rxGlobal`: like [`@rx`](super::rx) but, with `capture`, walks every match and stores the
//! groups of all of them in order (`TX.0`, `TX.1`, … up to `TX.9`). An empty match right where
//! the previous one ended is skipped, as PCRE's global loop does.
//! `SecRule ARGS "@rxGlobal (\d+)" "id:1,capture,..."`.

use super::rx::Pattern;
use super::{Operator, OperatorContext, OperatorError};

#[derive(Debug)]
pub(crate) struct RxGlobal {
    pattern: Pattern,
}

pub(crate) fn build(param: &str) -> Result<Box<dyn Operator>, OperatorError> {
    Ok(Box::new(RxGlobal { pattern: Pattern::new("rxGlobal", param)? }))
}

impl Operator for RxGlobal {
    fn evaluate(&self, ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        if self.pattern.cannot_match(input) {
            return false;
        }
        if !ctx.capturing() {
            return self.pattern.with(&*ctx, |re| re.is_match(input)).unwrap_or(false);
        }
        let found = self.pattern.with(&*ctx, |re| {
            let mut values: Vec<(usize, Vec<u8>)> = Vec::new();
            let mut any = false;
            for caps in re.captures_iter(input) {
                let whole_empty = caps.get(0).is_none_or(|m| m.is_empty());
                if any && whole_empty {
                    continue;
                }
                any = true;
                for m in caps.iter() {
                    if values.len() >= 10 {
                        break;
                    }
                    if let Some(m) = m {
                        values.push((values.len(), m.as_bytes().to_vec()));
                    }
                }
            }
            any.then_some(values)
        });
        match found.flatten() {
            Some(values) => {
                for (i, value) in values {
                    ctx.set_capture(i, &value);
                }
                true
            }
            None => false,
        }
    }

    fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        self.pattern.required_literals()
    }

    fn required_bytes(&self) -> Option<crate::transform::ByteSet> {
        self.pattern.required_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn captures_every_match() {
        let mut ctx = Ctx { capture: true, ..Ctx::default() };
        assert!(build("(^|a)(b|c)(d)").is_ok_and(|op| op.evaluate(&mut ctx, b"bdacd")));
        let got: Vec<&[u8]> = ctx.captures.iter().map(|(_, v)| v.as_slice()).collect();
        assert_eq!(got, vec![&b"bd"[..], b"", b"b", b"d", b"acd", b"a", b"c", b"d"]);
        let mut ctx = Ctx { capture: true, ..Ctx::default() };
        assert!(build("[a-z]*").is_ok_and(|op| op.evaluate(&mut ctx, b"aaa00bbb")));
        assert_eq!(ctx.captures.len(), 2);
    }
}
