//! `setvar`: `tx.x=1`, `tx.x=+%{tx.y}`, `tx.x=-1`, `!tx.x`, `tx.%{rule.id}-foo=%{MATCHED_VAR}`.

use crate::parser::macros::{MacroText, Part};
use crate::vars::Variable;

/// What `setvar` does to the variable.
#[derive(Debug, Clone)]
pub enum SetVarOp {
    /// `=value`.
    Set(MacroText),
    /// `=+value`: integer addition.
    Add(MacroText),
    /// `=-value`: integer subtraction.
    Sub(MacroText),
    /// `!name`: remove.
    Delete,
}

/// A parsed `setvar`.
#[derive(Debug, Clone)]
pub struct SetVar {
    /// `TX` or a persistent collection.
    pub collection: Variable,
    /// The key (may contain macros; its literal parts lower-cased).
    pub key: MacroText,
    /// The change.
    pub op: SetVarOp,
    /// For a literal `TX` key, its slot (see `tx::tx_names`), set when the engine is built.
    pub slot: Option<u32>,
}

impl SetVar {
    /// Parse a `setvar` value.
    pub fn parse(value: &str) -> Result<SetVar, String> {
        let value = value.trim();
        let (delete, body) = match value.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let (target, assigned) = match body.split_once('=') {
            Some((t, v)) => (t.trim(), Some(v)),
            None => (body.trim(), None),
        };
        let (collection, key) = target.split_once('.').ok_or_else(|| format!("expected `collection.key`, found `{target}`"))?;
        let collection = match collection.to_ascii_uppercase().as_str() {
            "TX" => Variable::Tx,
            other => super::storage::persistent_collection(other)
                .ok_or_else(|| format!("cannot set variables in `{collection}`"))?,
        };
        if key.is_empty() {
            return Err("empty variable name".into());
        }
        let op = if delete {
            SetVarOp::Delete
        } else {
            match assigned {
                None => SetVarOp::Set(MacroText::parse("1")),
                Some(v) => match (v.strip_prefix('+'), v.strip_prefix('-')) {
                    (Some(rest), _) => SetVarOp::Add(MacroText::parse(rest)),
                    (_, Some(rest)) => SetVarOp::Sub(MacroText::parse(rest)),
                    _ => SetVarOp::Set(MacroText::parse(v)),
                },
            }
        };
        // Keys are lower-cased when set; the literal parts can be now.
        let mut key = MacroText::parse(key);
        for part in &mut key.parts {
            if let Part::Literal(l) = part {
                l.make_ascii_lowercase();
            }
        }
        Ok(SetVar { collection, key, op, slot: None })
    }
}

/// Integer value of a variable as ModSecurity reads it: leading digits (with sign), else 0.
pub fn to_int(bytes: &[u8]) -> i64 {
    // Nearly always a few plain digits (scores, paranoia levels): read them without the text
    // handling below, which gives the same number for them (18 digits cannot overflow).
    if (1..=18).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_digit) {
        return bytes.iter().fold(0, |n, &d| n * 10 + i64::from(d - b'0'));
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(text.len(), |(i, _)| i);
    text[..end].parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert!(matches!(SetVar::parse("tx.a=+%{tx.b}").unwrap().op, SetVarOp::Add(_)));
        assert!(matches!(SetVar::parse("!tx.a").unwrap().op, SetVarOp::Delete));
        assert!(matches!(SetVar::parse("tx.a=-5").unwrap().op, SetVarOp::Sub(_)));
        assert!(SetVar::parse("foo").is_err());
        assert_eq!(to_int(b"12abc"), 12);
        assert_eq!(to_int(b"-3"), -3);
        assert_eq!(to_int(b"x"), 0);
        assert_eq!((to_int(b"007"), to_int(b"999999999999999999"), to_int(b"9999999999999999999")), (7, 999_999_999_999_999_999, 0));
    }
}
