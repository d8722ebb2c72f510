//! `@pmFromFile` (alias `@pmf`): `@pm` with the phrases read from one or more files, one
//! phrase per line (spaces inside a line belong to the phrase; blank lines and `#` comments
//! are skipped). Relative paths are resolved against the directory of the rule file, as the
//! CRS expects: `SecRule REQUEST_FILENAME "@pmFromFile restricted-files.data" "id:930130"`.
//! Remote lists (`https://…`) are refused: the engine does no network I/O.

use std::path::{Path, PathBuf};

use super::pm::PhraseMatch;
use super::{Operator, OperatorError};

pub(crate) fn build(name: &str, param: &str, base_dir: Option<&Path>) -> Result<Box<dyn Operator>, OperatorError> {
    let mut phrases = Vec::new();
    for file in param.split_ascii_whitespace() {
        phrases.extend(read_list(name, file, base_dir)?);
    }
    Ok(Box::new(PhraseMatch::new(name, &phrases)?))
}

/// Resolve `file` against `base_dir` (when relative).
pub(crate) fn resolve(file: &str, base_dir: Option<&Path>) -> PathBuf {
    let path = Path::new(file);
    match base_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Read a data file's non-comment lines (shared with `@ipMatchFromFile`).
pub(crate) fn read_list(name: &str, file: &str, base_dir: Option<&Path>) -> Result<Vec<Vec<u8>>, OperatorError> {
    if file.starts_with("http://") || file.starts_with("https://") {
        return Err(OperatorError::Unsupported {
            name: name.to_string(),
            why: format!("remote data file `{file}`: the WAF engine does no network I/O; download it and use a local path"),
        });
    }
    let path = resolve(file, base_dir);
    let bytes = std::fs::read(&path).map_err(|e| OperatorError::DataFile {
        name: name.to_string(),
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    Ok(bytes
        .split(|&c| c == b'\n')
        .map(|line| line.trim_ascii())
        .filter(|line| !line.is_empty() && !line.starts_with(b"#"))
        .map(<[u8]>::to_vec)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn reads_relative_to_rule_dir() {
        let dir = std::env::temp_dir().join(format!("rampart-pmf-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("list.data"), "# comment\n\nxxx yyy zzz\r\nabc\n");
        let op = build("pmFromFile", "list.data", Some(&dir));
        let mut ctx = Ctx::default();
        assert!(op.as_ref().is_ok_and(|op| op.evaluate(&mut ctx, b"..XXX YYY ZZZ..")));
        assert!(op.as_ref().is_ok_and(|op| !op.evaluate(&mut ctx, b"xxx yyy")));
        assert!(op.is_ok_and(|op| !op.evaluate(&mut ctx, b"comment")));
        assert!(matches!(build("pmf", "missing.data", Some(&dir)), Err(OperatorError::DataFile { .. })));
        assert!(matches!(build("pmf", "https://x/y", None), Err(OperatorError::Unsupported { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
