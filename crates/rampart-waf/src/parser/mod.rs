//! SecLang text → [`Directive`]s, read as ModSecurity v3 and Coraza read it: `\` line
//! continuations, `#` comments, double-quoted arguments with `\"` escapes, and `Include` (with
//! globs, relative to the including file) expanded in place.
//!
//! The parser knows only the *shape* of a directive (name + arguments); what each one means is
//! decided by [`crate::compile`]. Actions, variables and operators have their own small parsers
//! in the submodules.

pub mod actions;
pub mod glob;
pub mod macros;
pub mod operator;
pub mod variables;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{LoadError, Location};

/// The deepest `Include` nesting accepted before a cycle is assumed.
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// One directive as written: its name, its arguments (quotes removed) and where it was.
#[derive(Debug, Clone)]
pub struct Directive {
    /// Directive name as written (`SecRule`); compare case-insensitively.
    pub name: String,
    /// Arguments with quoting removed.
    pub args: Vec<String>,
    /// Where the directive starts.
    pub location: Location,
    /// Where each argument starts (file, physical line, column), for precise errors.
    pub arg_locations: Vec<Location>,
    /// Directory of the file the directive is in (data files resolve against it).
    pub base_dir: Option<PathBuf>,
}

impl Directive {
    /// Where argument `index` starts (the directive's start if unknown).
    pub fn arg_location(&self, index: usize) -> Location {
        self.arg_locations.get(index).cloned().unwrap_or_else(|| self.location.clone())
    }
}

/// Where a piece of a logical (continued) line came from: its offset in the logical line, and
/// the physical line and column of its first byte.
#[derive(Debug, Clone, Copy)]
struct Segment {
    offset: usize,
    line: usize,
    column: usize,
}

/// Map an offset in a logical line to a physical location.
fn locate(segments: &[Segment], file: &Arc<PathBuf>, offset: usize) -> Location {
    let seg = segments.iter().rev().find(|s| s.offset <= offset).or(segments.first());
    match seg {
        Some(s) => Location { file: file.clone(), line: s.line, column: s.column + (offset - s.offset.min(offset)) },
        None => Location::new(file.clone(), 0),
    }
}

/// Read a file and every file it includes.
pub fn parse_file(path: &Path) -> Result<Vec<Directive>, LoadError> {
    let mut out = Vec::new();
    let here = Location::new(Arc::new(PathBuf::from("<root>")), 0);
    read_file_into(path, &here, 0, &mut out)?;
    Ok(out)
}

/// Parse text given inline; `Include`s resolve against `base_dir` (or the current directory).
pub fn parse_str(text: &str, base_dir: Option<&Path>) -> Result<Vec<Directive>, LoadError> {
    let mut out = Vec::new();
    let file = Arc::new(PathBuf::from("<inline>"));
    parse_text(text, file, base_dir.map(Path::to_path_buf), 0, &mut out)?;
    Ok(out)
}

fn read_file_into(path: &Path, from: &Location, depth: usize, out: &mut Vec<Directive>) -> Result<(), LoadError> {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(LoadError::IncludeDepth { location: from.clone(), max: MAX_INCLUDE_DEPTH });
    }
    let text = std::fs::read(path).map_err(|source| LoadError::Io {
        location: from.clone(),
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&text);
    let base = path.parent().map(Path::to_path_buf);
    parse_text(&text, Arc::new(path.to_path_buf()), base, depth, out)
}

fn parse_text(
    text: &str,
    file: Arc<PathBuf>,
    base_dir: Option<PathBuf>,
    depth: usize,
    out: &mut Vec<Directive>,
) -> Result<(), LoadError> {
    let mut buffer = String::new();
    let mut segments: Vec<Segment> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if buffer.is_empty() {
            segments.clear();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
        }
        let column = raw.len() - raw.trim_start().len() + 1;
        segments.push(Segment { offset: buffer.len(), line: index + 1, column });
        if let Some(stripped) = line.strip_suffix('\\') {
            buffer.push_str(stripped);
            continue;
        }
        buffer.push_str(line);
        let logical = std::mem::take(&mut buffer);
        handle_line(&logical, &segments, &file, &base_dir, depth, out)?;
    }
    if !buffer.is_empty() {
        handle_line(&buffer, &segments, &file, &base_dir, depth, out)?;
    }
    Ok(())
}

fn handle_line(
    line: &str,
    segments: &[Segment],
    file: &Arc<PathBuf>,
    base_dir: &Option<PathBuf>,
    depth: usize,
    out: &mut Vec<Directive>,
) -> Result<(), LoadError> {
    let location = locate(segments, file, 0);
    let (name, args, offsets) = split_directive(line, &location)?;
    let arg_locations = offsets.iter().map(|&o| locate(segments, file, o)).collect();
    let optional = name.eq_ignore_ascii_case("IncludeOptional");
    if name.eq_ignore_ascii_case("Include") || optional {
        let pattern = args.first().ok_or_else(|| LoadError::Syntax {
            location: location.clone(),
            expected: "a file or glob after `Include`".into(),
            found: "end of line".into(),
        })?;
        let full = match base_dir {
            Some(dir) if !Path::new(pattern).is_absolute() => dir.join(pattern),
            _ => PathBuf::from(pattern),
        };
        let files = match glob::expand(&full) {
            Err(_) if optional => Ok(Vec::new()),
            other => other,
        };
        let files = files.map_err(|source| LoadError::Io {
            location: location.clone(),
            path: full.clone(),
            source,
        })?;
        for file in files {
            // `IncludeOptional` (Apache's spelling) skips files that do not exist.
            if optional && !file.exists() {
                continue;
            }
            read_file_into(&file, &location, depth + 1, out)?;
        }
        return Ok(());
    }
    out.push(Directive { name, args, location, arg_locations, base_dir: base_dir.clone() });
    Ok(())
}

/// Split a logical line into a directive name, its arguments and where each argument starts.
fn split_directive(line: &str, location: &Location) -> Result<(String, Vec<String>, Vec<usize>), LoadError> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut offsets = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        offsets.push(i);
        let quote = bytes[i];
        if quote == b'"' || (quote == b'\'' && !args.is_empty()) {
            i += 1;
            let mut value = Vec::new();
            let mut closed = false;
            while i < bytes.len() {
                let c = bytes[i];
                if c == b'\\' && i + 1 < bytes.len() && bytes[i + 1] == quote {
                    value.push(quote);
                    i += 2;
                    continue;
                }
                if c == quote {
                    closed = true;
                    i += 1;
                    break;
                }
                value.push(c);
                i += 1;
            }
            // ModSecurity v3 takes an argument left open at the end of the directive as
            // ending there (issue 1960's configuration relies on it); an open quote before
            // further arguments cannot happen, as the quote runs to the end.
            let _ = closed;
            args.push(String::from_utf8_lossy(&value).into_owned());
        } else {
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            args.push(line[start..i].to_string());
        }
    }
    if args.is_empty() {
        return Err(LoadError::Syntax {
            location: location.clone(),
            expected: "a directive".into(),
            found: "nothing".into(),
        });
    }
    let name = args.remove(0);
    offsets.remove(0);
    Ok((name, args, offsets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_and_quotes() {
        let text = "# comment\nSecRule ARGS \"@rx a\\\"b\" \\\n    \"id:1,\\\n    phase:2\"\nSecRuleEngine On\n";
        let d = parse_str(text, None).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "SecRule");
        assert_eq!(d[0].args, vec!["ARGS", "@rx a\"b", "id:1,phase:2"]);
        assert_eq!(d[0].location.line, 2);
        assert_eq!((d[0].arg_location(2).line, d[0].arg_location(2).column), (3, 5));
        assert_eq!((d[0].arg_location(1).line, d[0].arg_location(1).column), (2, 14));
        assert_eq!(d[1].args, vec!["On"]);
    }

    #[test]
    fn quote_left_open_ends_with_the_directive() {
        let d = parse_str("SecRule ARGS \"@rx a\" \"id:1,block", None).unwrap();
        assert_eq!(d[0].args, vec!["ARGS", "@rx a", "id:1,block"]);
    }
}
