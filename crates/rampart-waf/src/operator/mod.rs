//! Operators (`@rx`, `@pm`, `@streq`, …): one file per operator, built once when a rule is
//! loaded and evaluated against each value the rule's variables yield.
//!
//! [`build`] validates the parameter at load time (a bad regex or data file is a
//! configuration error, never a request-time surprise). Parameters with `%{…}` macros are
//! expanded through [`OperatorContext::expand`] at evaluation time. Operators that need
//! network look-ups or external programs are refused with [`OperatorError::Unsupported`].

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

mod begins_with;
mod compare;
mod contains;
mod contains_word;
mod detect_sqli;
mod detect_xss;
mod ends_with;
mod ip_match;
mod param;
mod pm;
mod pm_from_file;
pub(crate) mod required_bytes;
pub mod required_literals;
mod rx;
mod rx_global;
mod streq;
mod strings;
mod strmatch;
mod unconditional_match;
mod validate_byte_range;
mod validate_url_encoding;
mod validate_utf8_encoding;
mod verify;
mod verify_cc;
mod verify_cpf;
mod verify_ssn;
mod verify_svnr;
mod within;

/// What an operator may ask of the transaction while it runs.
pub trait OperatorContext {
    /// Expand `%{collection.key}` macros in an operator parameter (`@streq %{tx.host}`).
    fn expand<'a>(&self, text: &'a str) -> Cow<'a, str>;
    /// [`OperatorContext::expand`] for a parameter parsed when the rule was loaded (`raw` is
    /// its text); by default `raw` is expanded.
    fn expand_parsed<'a>(&self, parsed: &'a crate::parser::macros::MacroText, raw: &'a str) -> Cow<'a, str> {
        let _ = parsed;
        self.expand(raw)
    }
    /// Whether the rule asked for captures (`capture` action): then `@rx` and friends store
    /// groups 0..=9 through [`OperatorContext::set_capture`].
    fn capturing(&self) -> bool;
    /// Store capture group `index` (0..=9) as `TX.<index>`.
    fn set_capture(&mut self, index: usize, value: &[u8]);
}

/// A built operator.
pub trait Operator: Send + Sync + fmt::Debug {
    /// True when `input` matches. Negation (`!@rx`) is applied by the caller, not here.
    fn evaluate(&self, ctx: &mut dyn OperatorContext, input: &[u8]) -> bool;

    /// Literals (lower-case, meant to be searched ASCII-case-insensitively) at least one of
    /// which every input the operator matches contains; `None` (the default) when there is no
    /// such set. Asked once, when the engine is built: the transaction searches every rule's
    /// set in one pass per value (see [`crate::prefilter`]) and does not call
    /// [`Operator::evaluate`] on a value that holds none of them.
    fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        None
    }

    /// Bytes at least one of which every input the operator matches contains; `None` (the
    /// default) when there is no useful such set. Asked once, when the engine is built: the
    /// transaction does not call [`Operator::evaluate`] on a (transformed) value that holds
    /// none of them, and skips a rule none of whose variables holds one.
    fn required_bytes(&self) -> Option<crate::transform::ByteSet> {
        None
    }

    /// The parameter's macros (`@within %{tx.allowed_methods}`), if any, for the engine to
    /// point `%{tx.key}` at numbered slots when it is built (see `tx::tx_names`); `None` (the
    /// default) for operators without macros, whose parameters are then expanded as parsed.
    fn macros_mut(&mut self) -> Option<&mut crate::parser::macros::MacroText> {
        None
    }
}

/// Why an operator could not be built from a rule's text.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("unknown operator `@{0}`")]
    Unknown(String),
    #[error("operator `@{name}` is not supported: {why}")]
    Unsupported { name: String, why: String },
    #[error("operator `@{name}`: invalid argument: {why}")]
    InvalidArgument { name: String, why: String },
    #[error("operator `@{name}`: cannot read data file `{path}`: {why}")]
    DataFile { name: String, path: String, why: String },
}

/// Build operator `name` (without `@`) with `param` (the text after the name, trimmed).
/// `base_dir` is the directory of the rule file, against which data files
/// (`@pmFromFile`, `@ipMatchFromFile`) are resolved.
pub fn build(name: &str, param: &str, base_dir: Option<&Path>) -> Result<Box<dyn Operator>, OperatorError> {
    use compare::Cmp;
    let unsupported = |why: &str| Err(OperatorError::Unsupported { name: name.to_string(), why: why.to_string() });
    let op: Box<dyn Operator> = match name.to_ascii_lowercase().as_str() {
        "rx" => rx::build(param)?,
        "rxglobal" => rx_global::build(param)?,
        "pm" => pm::build(param)?,
        "pmfromfile" | "pmf" => pm_from_file::build(name, param, base_dir)?,
        "ipmatch" => ip_match::build(param)?,
        "ipmatchfromfile" | "ipmatchf" => ip_match::build_from_file(name, param, base_dir)?,
        "streq" => streq::build(param),
        "beginswith" => begins_with::build(param),
        "endswith" => ends_with::build(param),
        "contains" => contains::build(param),
        "containsword" => contains_word::build(param),
        "within" => within::build(param),
        "strmatch" => strmatch::build(param),
        "eq" => compare::build(Cmp::Eq, param),
        "ge" => compare::build(Cmp::Ge, param),
        "gt" => compare::build(Cmp::Gt, param),
        "le" => compare::build(Cmp::Le, param),
        "lt" => compare::build(Cmp::Lt, param),
        "unconditionalmatch" => Box::new(unconditional_match::Always(true)),
        "nomatch" => Box::new(unconditional_match::Always(false)),
        "validatebyterange" => validate_byte_range::build(param)?,
        "validateurlencoding" => Box::new(validate_url_encoding::ValidateUrlEncoding),
        "validateutf8encoding" => Box::new(validate_utf8_encoding::ValidateUtf8Encoding),
        "detectsqli" => Box::new(detect_sqli::DetectSqli),
        "detectxss" => Box::new(detect_xss::DetectXss),
        "verifycc" => verify_cc::build(param)?,
        "verifycpf" => verify_cpf::build(param)?,
        "verifyssn" => verify_ssn::build(param)?,
        "verifysvnr" => verify_svnr::build(param)?,
        "rbl" => return unsupported("DNS block-list look-ups need network I/O, which the WAF engine does not do"),
        "geolookup" => return unsupported("needs a MaxMind GeoIP database, which is not configured"),
        "gsblookup" => return unsupported("Google Safe Browsing look-ups need network I/O"),
        "validatedtd" | "validateschema" => return unsupported("XML DTD/schema validation is not implemented"),
        "inspectfile" => return unsupported("running external programs on request data is not allowed"),
        "fuzzyhash" => return unsupported("ssdeep fuzzy hashing is not implemented"),
        _ => return Err(OperatorError::Unknown(name.to_string())),
    };
    Ok(op)
}

/// The names (as SecLang writes them) of every operator [`build`] can construct, aliases
/// included. Operators it refuses as unsupported are not listed.
pub fn names() -> &'static [&'static str] {
    &[
        "rx", "rxGlobal", "pm", "pmFromFile", "pmf", "ipMatch", "ipMatchFromFile", "ipMatchF", "streq",
        "beginsWith", "endsWith", "contains", "containsWord", "within", "strmatch", "eq", "ge", "gt", "le",
        "lt", "unconditionalMatch", "noMatch", "validateByteRange", "validateUrlEncoding",
        "validateUtf8Encoding", "detectSQLi", "detectXSS", "verifyCC", "verifyCPF", "verifySSN", "verifySVNR",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use param::test_ctx::Ctx;

    #[test]
    fn names_build_and_unknown_is_reported() {
        let dir = std::env::temp_dir();
        for name in names() {
            // File-based operators need a file; everything else takes a simple parameter.
            if matches!(*name, "pmFromFile" | "pmf" | "ipMatchFromFile" | "ipMatchF") {
                continue;
            }
            let param = if name.starts_with("ipMatch") { "127.0.0.1" } else { "1" };
            assert!(build(name, param, Some(&dir)).is_ok(), "{name}");
        }
        assert!(matches!(build("RX", "a", None), Ok(_)));
        assert!(matches!(build("nope", "", None), Err(OperatorError::Unknown(_))));
        assert!(matches!(build("rbl", "x", None), Err(OperatorError::Unsupported { .. })));
        assert!(matches!(build("geoLookup", "", None), Err(OperatorError::Unsupported { .. })));
    }

    /// Every operator over a few thousand random and edge-case inputs, capturing: no panic.
    #[test]
    fn no_operator_panics_on_any_bytes() {
        let ops: Vec<Box<dyn Operator>> = [
            ("rx", r"(?i)(a+)(b|c)?\d"),
            ("rxGlobal", r"(x*)(y)?"),
            ("pm", "abc def \"|00 ff|\""),
            ("ipMatch", "10.0.0.0/8,::1"),
            ("streq", "%{tx.a}"),
            ("beginsWith", "a"),
            ("endsWith", ""),
            ("contains", "%"),
            ("containsWord", "a"),
            ("within", "%{tx.a}"),
            ("strmatch", "ab"),
            ("eq", "%{tx.n}"),
            ("lt", "-3"),
            ("validateByteRange", "32-126"),
            ("validateUrlEncoding", ""),
            ("validateUtf8Encoding", ""),
            ("detectSQLi", ""),
            ("detectXSS", ""),
            ("verifyCC", r"\d{13,16}"),
            ("verifyCPF", r"[0-9.\-]{11,14}"),
            ("verifySSN", r"\d{3}-?\d{2}-?\d{4}"),
            ("verifySVNR", r"[0-9]{4} ?[0-9]{6}"),
            ("unconditionalMatch", ""),
        ]
        .iter()
        .filter_map(|(n, p)| build(n, p, None).ok())
        .collect();
        assert_eq!(ops.len(), 23);
        let mut ctx = Ctx { capture: true, ..Ctx::default() };
        ctx.vars.push(("tx.a".into(), "GET POST".into()));
        ctx.vars.push(("tx.n".into(), "5".into()));
        let mut s: u64 = 0x2545_f491_4f6c_dd1d;
        const SPECIAL: &[u8] = b"%uU+&#;xX\\/.*-<>0123456789aAbBcC \t\r\n\x00\xff\xc3\xe2\xf0\x80'\":";
        for n in 0..3000usize {
            let len = n % 40;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    crate::test_rng::next(&mut s);
                    if s.is_multiple_of(4) { (s >> 8) as u8 } else { SPECIAL[(s >> 8) as usize % SPECIAL.len()] }
                })
                .collect();
            for op in &ops {
                let _ = op.evaluate(&mut ctx, &input);
            }
            ctx.captures.clear();
        }
    }
}
