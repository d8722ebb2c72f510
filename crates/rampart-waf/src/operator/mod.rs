//! Operators (`@rx`, `@pm`, `@streq`, …): one file per operator, built once when a rule is
//! loaded and evaluated against each value the rule's variables yield.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

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
    let _ = (param, base_dir);
    Err(OperatorError::Unknown(name.to_string()))
}
