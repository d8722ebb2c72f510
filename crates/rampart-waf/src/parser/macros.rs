//! Macro text (`%{tx.anomaly_score}`, `%{MATCHED_VAR}`, `%{REQUEST_HEADERS.host}`), compiled
//! once at load into literal and variable parts and expanded per transaction.

/// One part of a macro text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as is.
    Literal(String),
    /// `%{COLLECTION.key}` or `%{VARIABLE}`: collection upper-cased, key lower-cased.
    Variable {
        /// Collection or variable name, upper-cased (`TX`, `MATCHED_VAR`).
        collection: String,
        /// The key after `.` or `:`, if any: lower-cased (keys are looked up case-insensitively,
        /// and `TX` stores its names lower-cased), except a `/regex/`, kept as written.
        key: Option<String>,
    },
    /// `%{tx.key}` whose key the engine numbered when it was built (see `tx::tx_names`):
    /// read by slot.
    TxVariable {
        /// The key, lower-cased.
        key: String,
        /// Its slot.
        slot: u32,
    },
}

/// A compiled macro text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MacroText {
    /// The parts in order.
    pub parts: Vec<Part>,
}

impl MacroText {
    /// Compile `text`. An unterminated `%{` is kept as literal text.
    pub fn parse(text: &str) -> MacroText {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut literal = String::new();
        while let Some(pos) = rest.find("%{") {
            let after = &rest[pos + 2..];
            let Some(end) = after.find('}') else { break };
            literal.push_str(&rest[..pos]);
            let inner = after[..end].trim();
            let (collection, key) = match inner.split_once(['.', ':']) {
                Some((c, k)) if k.starts_with('/') => (c.to_ascii_uppercase(), Some(k.to_string())),
                Some((c, k)) => (c.to_ascii_uppercase(), Some(k.to_ascii_lowercase())),
                None => (inner.to_ascii_uppercase(), None),
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Variable { collection, key });
            rest = &after[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        MacroText { parts }
    }

    /// True when there is nothing to expand.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        let m = MacroText::parse("a %{tx.X} b %{MATCHED_VAR} %{TX:/^A\\S/}");
        assert_eq!(m.parts.len(), 6);
        assert_eq!(m.parts[1], Part::Variable { collection: "TX".into(), key: Some("x".into()) });
        assert_eq!(m.parts[5], Part::Variable { collection: "TX".into(), key: Some("/^A\\S/".into()) });
        assert!(MacroText::parse("plain").is_literal());
    }
}
