//! The operator argument of `SecRule`: `"@rx ^a"`, `"!@eq 0"`, or a bare regex (implicit `@rx`).

/// An operator as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOperator {
    /// `!@name`: the result is inverted.
    pub negated: bool,
    /// Operator name without `@` (`rx`, `pmFromFile`).
    pub name: String,
    /// The parameter after the name, trimmed.
    pub param: String,
}

/// Split an operator argument into negation, name and parameter.
pub fn parse(text: &str) -> RawOperator {
    let trimmed = text.trim_start();
    let (negated, rest) = match trimmed.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, trimmed),
    };
    match rest.strip_prefix('@') {
        Some(body) => {
            let end = body.find(|c: char| c.is_ascii_whitespace()).unwrap_or(body.len());
            RawOperator { negated, name: body[..end].to_string(), param: body[end..].trim().to_string() }
        }
        None => RawOperator { negated, name: "rx".into(), param: rest.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn forms() {
        let o = parse("!@rx ^a b");
        assert!(o.negated);
        assert_eq!((o.name.as_str(), o.param.as_str()), ("rx", "^a b"));
        assert_eq!(parse("^foo$").name, "rx");
        assert_eq!(parse("@unconditionalMatch").param, "");
    }
}
