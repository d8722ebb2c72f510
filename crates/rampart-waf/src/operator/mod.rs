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
