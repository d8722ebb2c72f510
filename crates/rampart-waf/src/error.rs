//! Load-time errors: everything that can go wrong reading and compiling a SecLang configuration,
//! each with the file, line and column it came from.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a directive (or a part of it) came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, or `<inline>` for text given directly.
    pub file: Arc<PathBuf>,
    /// 1-based line of the directive's first line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Location {
    /// A location in `file` at `line`, column 1.
    pub fn new(file: Arc<PathBuf>, line: usize) -> Self {
        Location { file, line, column: 1 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// What went wrong while loading a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The text does not follow SecLang syntax.
    #[error("{location}: syntax error: expected {expected}, found {found}")]
    Syntax {
        /// Where it happened.
        location: Location,
        /// What the parser expected.
        expected: String,
        /// What it found.
        found: String,
    },
    /// A directive is not known.
    #[error("{location}: unknown directive `{name}`")]
    UnknownDirective {
        /// Where it happened.
        location: Location,
        /// The name as written.
        name: String,
    },
    /// A directive's argument is invalid.
    #[error("{location}: `{directive}`: {why}")]
    InvalidArgument {
        /// Where it happened.
        location: Location,
        /// The directive.
        directive: String,
        /// Why it is wrong.
        why: String,
    },
    /// An action is unknown or its value invalid.
    #[error("{location}: action `{action}`: {why}")]
    Action {
        /// Where it happened.
        location: Location,
        /// The action.
        action: String,
        /// Why it is wrong.
        why: String,
    },
    /// A variable is unknown or its selector invalid.
    #[error("{location}: variable `{variable}`: {why}")]
    Variable {
        /// Where it happened.
        location: Location,
        /// The variable.
        variable: String,
        /// Why it is wrong.
        why: String,
    },
    /// A transformation is not known.
    #[error("{location}: unknown transformation `t:{name}`")]
    UnknownTransformation {
        /// Where it happened.
        location: Location,
        /// The name as written.
        name: String,
    },
    /// An operator could not be built.
    #[error("{location}: {source}")]
    Operator {
        /// Where it happened.
        location: Location,
        /// The underlying error.
        #[source]
        source: crate::operator::OperatorError,
    },
    /// A file could not be read.
    #[error("{location}: cannot read `{path}`: {source}")]
    Io {
        /// Where it happened.
        location: Location,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `Include` nests too deep (probably a cycle).
    #[error("{location}: includes nest deeper than {max}")]
    IncludeDepth {
        /// Where it happened.
        location: Location,
        /// The deepest nesting allowed.
        max: usize,
    },
}
