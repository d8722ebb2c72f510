//! Where errors are collected while a file is read and validated, and how byte offsets
//! become `line:column`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, ErrorKind};

/// A byte range in the configuration text.
pub(crate) type Span = Range<usize>;

/// The file being checked and every error found in it so far.
pub(crate) struct Ctx<'a> {
    text: &'a str,
    file: PathBuf,
    base_dir: PathBuf,
    line_starts: Vec<usize>,
    errors: Vec<ConfigError>,
}

impl<'a> Ctx<'a> {
    /// A context for `text`, read from `origin`; relative paths resolve against `origin`'s
    /// directory.
    pub(crate) fn new(text: &'a str, origin: &Path) -> Ctx<'a> {
        let base_dir = match origin.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Ctx { text, file: origin.to_path_buf(), base_dir, line_starts, errors: Vec::new() }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line, column + 1)
    }

    /// Record an error at `span` (its start), or without position when `span` is `None`.
    pub(crate) fn error(&mut self, span: Option<&Span>, kind: ErrorKind, message: impl Into<String>) {
        let (line, column) = match span {
            Some(s) => self.position(s.start),
            None => (0, 0),
        };
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
            kind,
        });
    }

    /// Record an [`ErrorKind::InvalidValue`] error at `span`.
    pub(crate) fn invalid(&mut self, span: &Span, message: impl Into<String>) {
        self.error(Some(span), ErrorKind::InvalidValue, message);
    }

    /// A path from the file, resolved against the configuration file's directory.
    pub(crate) fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The configuration file's directory.
    pub(crate) fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// True when at least one error has been recorded.
    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The errors found so far.
    pub(crate) fn into_errors(self) -> Vec<ConfigError> {
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let ctx = Ctx::new("ab\ncdé\nf", Path::new("/etc/r.toml"));
        assert_eq!(ctx.position(0), (1, 1));
        assert_eq!(ctx.position(3), (2, 1));
        assert_eq!(ctx.position(7), (2, 4));
        assert_eq!(ctx.position(8), (3, 1));
        assert_eq!(ctx.resolve("x.pem"), PathBuf::from("/etc/x.pem"));
        assert_eq!(ctx.resolve("/y"), PathBuf::from("/y"));
    }
}
