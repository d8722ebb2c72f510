//! `@detectXSS`: libinjection's XSS detector (an HTML5 tokenizer run in several contexts,
//! flagging script tags, event-handler attributes, `javascript:` URLs and the like).
//! `SecRule ARGS "@detectXSS" "id:941100,block,t:utf8toUnicode,t:urlDecodeUni,t:htmlEntityDecode"`.
//!
//! Implementation: the `libinjectionrs` crate (see [`super::detect_sqli`] for why and how it was
//! checked). secrules-language-tests `detectXSS.json`: 3/3 pass. In the same differential run
//! against the C library (14,322 comparable inputs) the verdicts agree on 14,321; the one
//! difference is `<x onend=*1 ` (the port flags the `onend` event handler, the bundled C
//! version does not). Calls are wrapped in `catch_unwind`; a panic counts as a detection
//! (fail closed).

use std::panic::{self, AssertUnwindSafe};

use super::{Operator, OperatorContext};

#[derive(Debug)]
pub(crate) struct DetectXss;

impl Operator for DetectXss {
    fn evaluate(&self, _ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        panic::catch_unwind(AssertUnwindSafe(|| libinjectionrs::detect_xss(input).is_injection())).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn vectors_and_benign_text() {
        let mut ctx = Ctx::default();
        for attack in [
            &b"<script>alert(1)</script>"[..],
            b"<a href=\"javascript:alert(1)\">)",
            b"<img src=x onerror=alert(1)>",
            b"<svg/onload=alert(1)>",
        ] {
            assert!(DetectXss.evaluate(&mut ctx, attack), "{}", attack.escape_ascii());
        }
        for benign in [&b""[..], b"this is not an XSS", b"1 < 2 and 3 > 2", b"<b>bold</b>"] {
            assert!(!DetectXss.evaluate(&mut ctx, benign), "{}", benign.escape_ascii());
        }
    }
}
