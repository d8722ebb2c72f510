//! The variables argument of `SecRule`:
//! `ARGS|!ARGS:foo|ARGS:/^id_/|&ARGS|REQUEST_HEADERS:User-Agent|XML:/*|TX:/^foo/`.

use crate::error::{LoadError, Location};

/// How a variable's key is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawSelector {
    /// `ARGS:foo` (and `XML:/xpath`): a literal key.
    Key(String),
    /// `ARGS:/regex/`: keys matching the regex.
    Regex(String),
}

/// One variable as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawVariable {
    /// `!ARGS:foo`: remove these from the rule's targets.
    pub exclude: bool,
    /// `&ARGS`: the number of values rather than the values.
    pub count: bool,
    /// Variable name, upper-cased.
    pub name: String,
    /// Optional key selector.
    pub selector: Option<RawSelector>,
}

/// Parse a `|`-separated variables list.
pub fn parse(text: &str, location: &Location) -> Result<Vec<RawVariable>, LoadError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i] == b'|' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let mut exclude = false;
        let mut count = false;
        loop {
            match bytes.get(i) {
                Some(b'!') => exclude = true,
                Some(b'&') => count = true,
                _ => break,
            }
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b':' && bytes[i] != b'|' && bytes[i] != b'.' {
            i += 1;
        }
        let name = text[start..i].trim().to_ascii_uppercase();
        // `TX.key` / `ip.key` is ModSecurity's older spelling of `TX:key`.
        if bytes.get(i) == Some(&b'.') && !matches!(name.as_str(), "TX" | "IP" | "GLOBAL" | "SESSION" | "USER" | "RESOURCE") {
            return Err(LoadError::Variable {
                location: location.clone(),
                variable: text[start..].split('|').next().unwrap_or_default().to_string(),
                why: "expected a variable name".into(),
            });
        }
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(LoadError::Variable {
                location: location.clone(),
                variable: text[start..i].to_string(),
                why: "expected a variable name".into(),
            });
        }
        let mut selector = None;
        if matches!(bytes.get(i), Some(b':') | Some(b'.')) {
            i += 1;
            let (sel, next) = read_selector(text, i, &name, location)?;
            selector = Some(sel);
            i = next;
        }
        out.push(RawVariable { exclude, count, name, selector });
    }
    if out.is_empty() {
        return Err(LoadError::Syntax {
            location: location.clone(),
            expected: "at least one variable".into(),
            found: format!("`{text}`"),
        });
    }
    Ok(out)
}

fn read_selector(text: &str, start: usize, name: &str, location: &Location) -> Result<(RawSelector, usize), LoadError> {
    let bytes = text.as_bytes();
    let mut i = start;
    // XPath selectors contain `/` freely; they end at `|`.
    if bytes.get(i) == Some(&b'/') && name != "XML" {
        i += 1;
        let body_start = i;
        while i < bytes.len() {
            if bytes[i] == b'\\' {
                i += 2;
                continue;
            }
            if bytes[i] == b'/' {
                let regex = text[body_start..i].to_string();
                return Ok((RawSelector::Regex(regex), i + 1));
            }
            i += 1;
        }
        return Err(LoadError::Variable {
            location: location.clone(),
            variable: name.to_string(),
            why: "regex selector has no closing `/`".into(),
        });
    }
    if bytes.get(i) == Some(&b'\'') {
        if let Some(end) = text[i + 1..].find('\'') {
            let key = text[i + 1..i + 1 + end].to_string();
            return Ok((quoted_key(key), i + end + 2));
        }
    }
    while i < bytes.len() && bytes[i] != b'|' {
        i += 1;
    }
    Ok((RawSelector::Key(text[start..i].trim().to_string()), i))
}

fn quoted_key(key: String) -> RawSelector {
    if key.len() >= 2 && key.starts_with('/') && key.ends_with('/') {
        RawSelector::Regex(key[1..key.len() - 1].to_string())
    } else {
        RawSelector::Key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    #[test]
    fn forms() {
        let loc = Location::new(Arc::new(PathBuf::from("x")), 1);
        let v = parse("ARGS|!ARGS:foo|ARGS:/^(a|b)$/|&ARGS|REQUEST_HEADERS:User-Agent|XML:/*|TX:/^foo/", &loc).unwrap();
        assert_eq!(v.len(), 7);
        assert!(v[1].exclude);
        assert_eq!(v[2].selector, Some(RawSelector::Regex("^(a|b)$".into())));
        assert!(v[3].count);
        assert_eq!(v[5].selector, Some(RawSelector::Key("/*".into())));
        assert_eq!(v[6].name, "TX");
    }
}
