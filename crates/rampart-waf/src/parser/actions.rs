//! The actions list of `SecRule` / `SecAction` / `SecDefaultAction`:
//! `id:1,phase:2,t:none,msg:'a, b',setvar:'tx.x=+%{tx.y}',ctl:ruleRemoveTargetById=1;ARGS:foo`.

use crate::error::{LoadError, Location};

/// One action as written: `name` or `name:value`, with single quotes around the value removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAction {
    /// Action name, lower-cased (`setvar`, `t`, `skipafter`).
    pub name: String,
    /// The value after the first `:`, if any.
    pub value: Option<String>,
}

/// Split an actions list into actions. Commas inside single quotes do not split.
pub fn parse(text: &str, location: &Location) -> Result<Vec<RawAction>, LoadError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut in_quote = false;
    let mut start = 0;
    for i in 0..=bytes.len() {
        let at_end = i == bytes.len();
        if !at_end {
            let c = bytes[i];
            if c == b'\'' && (i == 0 || bytes[i - 1] != b'\\') {
                in_quote = !in_quote;
                continue;
            }
            if c != b',' || in_quote {
                continue;
            }
        }
        let piece = text[start..i].trim();
        start = i + 1;
        if piece.is_empty() {
            continue;
        }
        out.push(parse_one(piece, location)?);
    }
    if in_quote {
        return Err(LoadError::Syntax {
            location: location.clone(),
            expected: "a closing `'` in the actions list".into(),
            found: "end of actions".into(),
        });
    }
    Ok(out)
}

fn parse_one(piece: &str, location: &Location) -> Result<RawAction, LoadError> {
    let (name, value) = match piece.split_once(':') {
        Some((n, v)) => (n.trim(), Some(unquote(v.trim()))),
        None => (piece, None),
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(LoadError::Syntax {
            location: location.clone(),
            expected: "an action name".into(),
            found: format!("`{piece}`"),
        });
    }
    Ok(RawAction { name: name.to_ascii_lowercase(), value })
}

fn unquote(v: &str) -> String {
    let inner = if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') { &v[1..v.len() - 1] } else { v };
    inner.replace("\\'", "'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    #[test]
    fn quoted_values_keep_commas() {
        let loc = Location::new(Arc::new(PathBuf::from("x")), 1);
        let a = parse("id:1, phase:2,t:none,msg:'a, b: c',setvar:'tx.x=+%{tx.y}',ctl:ruleRemoveTargetById=1;ARGS:foo,nolog", &loc).unwrap();
        assert_eq!(a.len(), 7);
        assert_eq!(a[3].value.as_deref(), Some("a, b: c"));
        assert_eq!(a[4].value.as_deref(), Some("tx.x=+%{tx.y}"));
        assert_eq!(a[5].value.as_deref(), Some("ruleRemoveTargetById=1;ARGS:foo"));
        assert_eq!(a[6], RawAction { name: "nolog".into(), value: None });
    }
}
