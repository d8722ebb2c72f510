//! `Include` globs: `*`, `?` and `[...]`-free wildcards in the last path component, expanded
//! in sorted order (as Apache and ModSecurity do). A path without wildcards names one file.

use std::io;
use std::path::{Path, PathBuf};

/// Files matching `pattern`, sorted by name. A pattern without wildcards is returned as is
/// (reading it reports a missing file); a glob matching nothing yields nothing.
pub fn expand(pattern: &Path) -> io::Result<Vec<PathBuf>> {
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else {
        return Ok(vec![pattern.to_path_buf()]);
    };
    if !name.contains(['*', '?']) {
        return Ok(vec![pattern.to_path_buf()]);
    }
    let dir = pattern.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(candidate) = entry.file_name().to_str() {
            if wildcard_match(name.as_bytes(), candidate.as_bytes()) && entry.path().is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `*` matches any run, `?` one byte.
pub fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"*.conf", b"REQUEST-901.conf"));
        assert!(!wildcard_match(b"*.conf", b"REQUEST-900.conf.example"));
        assert!(wildcard_match(b"a?c*", b"abcdef"));
    }
}
