//! Configuration errors: every problem found in a `rampart.toml`, each with its position.

use std::fmt;
use std::path::PathBuf;

/// What kind of mistake a [`ConfigError`] reports. Callers may match on it (tests do); the
/// message is what users read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read at all.
    Io,
    /// The text is not valid TOML.
    Syntax,
    /// A key that no section knows (typo, or a key in the wrong section).
    UnknownKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong type or out of range.
    InvalidValue,
    /// A name that refers to something not defined (a route's `upstream`, a priority class).
    UnknownReference,
    /// Two things that must be unique are not (listener addresses, upstream names).
    Duplicate,
    /// A file named in the configuration does not exist or cannot be read.
    File,
    /// Values that are fine alone but contradict each other.
    Inconsistent,
}

/// One problem in a configuration file.
///
/// `line` and `column` are 1-based; both are 0 when the problem has no position (the file
/// itself could not be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The configuration file the problem is in.
    pub file: PathBuf,
    /// 1-based line, or 0 when unknown.
    pub line: usize,
    /// 1-based column (in characters), or 0 when unknown.
    pub column: usize,
    /// What is wrong and, where possible, what was expected, with an example.
    pub message: String,
    /// The kind of mistake.
    pub kind: ErrorKind,
}

impl ConfigError {
    fn render(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file.display(), self.message)
        } else {
            format!("{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
        }
    }
}

/// Every problem found in one configuration, sorted by position.
///
/// `Display` prints one `file:line:column: message` per line, so `rampart check-config` can
/// print it as is and editors can jump to each line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The problems, sorted by line then column. Never empty when returned as an error.
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// Sort by position and drop exact duplicates.
    pub(crate) fn new(mut errors: Vec<ConfigError>) -> ConfigErrors {
        errors.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.message).cmp(&(&b.file, b.line, b.column, &b.message))
        });
        errors.dedup();
        ConfigErrors { errors }
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True when there is no problem (never the case for a returned error).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems, in position order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: usize, column: usize, message: &str) -> ConfigError {
        ConfigError {
            file: PathBuf::from("r.toml"),
            line,
            column,
            message: message.into(),
            kind: ErrorKind::InvalidValue,
        }
    }

    #[test]
    fn display_sorted_one_per_line() {
        let errs = ConfigErrors::new(vec![err(9, 1, "b"), err(2, 5, "a"), err(2, 5, "a")]);
        assert_eq!(errs.to_string(), "r.toml:2:5: a\nr.toml:9:1: b");
    }

    #[test]
    fn no_position() {
        assert_eq!(err(0, 0, "cannot read").to_string(), "r.toml: cannot read");
    }
}
