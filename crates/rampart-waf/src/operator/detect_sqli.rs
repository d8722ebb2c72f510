//! `@detectSQLi`: libinjection's SQL-injection detector (tokenizer + fingerprint set). With
//! `capture`, the fingerprint (e.g. `s&1c`) goes to `TX.0`, as in ModSecurity.
//! `SecRule ARGS "@detectSQLi" "id:942100,block,capture,t:urlDecodeUni"`.
//!
//! Implementation: the `libinjectionrs` crate (v0.1.1, BSD-3-Clause), a pure-Rust port of
//! libinjection — no C, no build-time download (the `libinjection` bindings crate clones
//! GitHub in its build script, which cannot work offline). The port announces itself as
//! machine-translated and differentially fuzzed against the C library, so it was checked here
//! before being trusted:
//!
//! * secrules-language-tests `detectSQLi.json`: 3/3 pass (walker `tests/seclang_operators.rs`).
//! * Differential run (2026-11, one-off, not in the repo) against the C libinjection bundled in
//!   PyPI `libinjection-python` 1.1.6, over 18,492 inputs: every value of every CRS v4
//!   regression test (URL-decoded) plus three random byte mutations of each. On the 14,322
//!   inputs the C wrapper accepts (valid UTF-8, no NUL) the verdicts agree on 14,321; the one
//!   difference is `1into outfile '` + newline (C: injection, fingerprint `1ks`; the port:
//!   not). No panic on any of the 18,492 inputs, including the non-UTF-8 ones.
//!
//! Because the port does slice indexing that could in theory panic, every call is wrapped in
//! `catch_unwind`, and a panic counts as a *detection* (fail closed: a crafted input must not
//! turn a detector crash into a bypass).

use std::panic::{self, AssertUnwindSafe};

use super::{Operator, OperatorContext};

#[derive(Debug)]
pub(crate) struct DetectSqli;

impl Operator for DetectSqli {
    fn evaluate(&self, ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let r = libinjectionrs::detect_sqli(input);
            // The fingerprint is copied out only for a detection (most values are clean).
            let injection = r.is_injection();
            (injection, r.fingerprint.filter(|_| injection).map(|f| f.as_bytes().to_vec()))
        }));
        match result {
            Ok((true, fingerprint)) => {
                if ctx.capturing() {
                    ctx.set_capture(0, fingerprint.as_deref().unwrap_or_default());
                }
                true
            }
            Ok((false, _)) => false,
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn classic_injections_and_benign_text() {
        let mut ctx = Ctx { capture: true, ..Ctx::default() };
        for attack in [&b"1' OR '1'='1"[..], b"1 UNION SELECT password FROM users--", b"ascii(substring(version() from 1 for 1))", b"' or 1=1 #"] {
            assert!(DetectSqli.evaluate(&mut ctx, attack), "{}", attack.escape_ascii());
        }
        assert!(!ctx.captures.is_empty());
        for benign in [&b""[..], b"this is not isqli", b"hello world", b"O'Reilly", b"john.doe@example.com"] {
            assert!(!DetectSqli.evaluate(&mut ctx, benign), "{}", benign.escape_ascii());
        }
    }

    #[test]
    fn no_panic_escapes_on_hostile_bytes() {
        let mut ctx = Ctx::default();
        let mut s: u64 = 88172645463325252;
        for n in 0..3000 {
            crate::test_rng::next(&mut s);
            let input: Vec<u8> = (0..(n % 64)).map(|k| b"'\"`-#/*()1aU; \\\x00\xff"[((s >> (k % 60)) as usize) % 16]).collect();
            let _ = DetectSqli.evaluate(&mut ctx, &input);
        }
    }
}
