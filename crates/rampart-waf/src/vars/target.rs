//! How a rule picks values out of a variable: `ARGS`, `ARGS:foo`, `ARGS:/^id_/`, `&ARGS`, and
//! exclusions `!ARGS:foo` (written in the rule, added by `SecRuleUpdateTargetById`, or at run
//! time by `ctl:ruleRemoveTargetById`).

use regex::Regex;

use super::Variable;
use crate::operator::required_literals::RequiredLiterals;
use crate::error::{LoadError, Location};
use crate::parser::variables::{RawSelector, RawVariable};

/// A key selector.
#[derive(Debug, Clone)]
pub enum Selector {
    /// A literal key, compared case-insensitively (stored lower-cased).
    Key(String),
    /// Keys matching a regex (compiled case-insensitive, as ModSecurity does).
    Regex(KeyRegex),
}

/// A regex key selector and what is known of the keys it can select: CRS exclusions such as
/// `!REQUEST_COOKIES:/^_pk_ref/` are checked for every cookie by many rules, and selectors
/// such as `TX:/^header_name_920450_/` for every `TX` variable (a few hundred), while most
/// keys lack the literal such a selector needs.
#[derive(Debug, Clone)]
pub struct KeyRegex {
    regex: Regex,
    /// The literals one of which a matching key must contain, when there are such.
    required: Option<RequiredLiterals>,
    /// A lower-case literal every matching key starts with, ASCII case aside (from a `^abc`
    /// pattern); lets a sorted map of lower-cased keys visit only the keys that have it.
    prefix: Option<String>,
    /// Whether the pattern is that prefix and nothing more (`^header_name_920450_`): every
    /// key that starts with it is selected, without running the regex.
    prefix_only: bool,
    /// For a `TX` target, the slots of the numbered names it selects (see `tx::tx_names`),
    /// set when the engine is built; `None` before.
    tx_slots: Option<Box<[u32]>>,
}

impl Selector {
    /// Build from the parsed form.
    pub fn compile(raw: &RawSelector, location: &Location, variable: &str) -> Result<Selector, LoadError> {
        match raw {
            RawSelector::Key(k) => Ok(Selector::Key(k.to_ascii_lowercase())),
            RawSelector::Regex(r) => Selector::regex(r).map_err(|e| LoadError::Variable {
                location: location.clone(),
                variable: variable.to_string(),
                why: e.to_string(),
            }),
        }
    }

    /// A regex selector for `pattern` (without the slashes), compiled case-insensitive.
    pub fn regex(pattern: &str) -> Result<Selector, regex::Error> {
        let prefix = anchored_prefix(pattern);
        // The prefix's bytes are literal in a regex (letters, digits, `_`, `-`).
        let prefix_only = prefix.as_ref().is_some_and(|p| pattern.len() == p.len() + 1);
        let pattern = format!("(?i){pattern}");
        let regex = Regex::new(&pattern)?;
        Ok(Selector::Regex(KeyRegex { regex, required: RequiredLiterals::new_unicode(&pattern), prefix, prefix_only, tx_slots: None }))
    }

    /// Whether `key` is selected.
    pub fn matches(&self, key: &str) -> bool {
        match self {
            Selector::Key(k) => k.eq_ignore_ascii_case(key),
            Selector::Regex(r) => r.required.as_ref().is_none_or(|l| l.may_match(key.as_bytes())) && r.regex.is_match(key),
        }
    }

    /// [`Selector::matches`] for a key that is most likely lower-case (`TX` and persistent
    /// collections store their keys so): then the literal check is a plain substring search.
    pub fn matches_lowercase(&self, key: &str) -> bool {
        match self {
            Selector::Regex(r) if !key.bytes().any(|c| c.is_ascii_uppercase()) => {
                r.required.as_ref().is_none_or(|l| l.may_match_lowercase(key.as_bytes())) && r.regex.is_match(key)
            }
            _ => self.matches(key),
        }
    }

    /// The lower-case literal every selected key starts with (ASCII case aside), if known.
    pub fn prefix(&self) -> Option<&str> {
        match self {
            Selector::Key(_) => None,
            Selector::Regex(r) => r.prefix.as_deref(),
        }
    }

    /// Whether every key that starts with [`Selector::prefix`] (exactly, case included) is
    /// selected: the selector is that prefix, anchored, and nothing more.
    pub fn is_prefix_only(&self) -> bool {
        matches!(self, Selector::Regex(r) if r.prefix_only)
    }

    /// For a regex on `TX`, the slots of the numbered names it selects (see `tx::tx_names`).
    pub fn tx_slots(&self) -> Option<&[u32]> {
        match self {
            Selector::Key(_) => None,
            Selector::Regex(r) => r.tx_slots.as_deref(),
        }
    }

    /// Record the slots of the numbered `TX` names a regex selects (a key selector has none).
    pub(crate) fn set_tx_slots(&mut self, slots: Vec<u32>) {
        if let Selector::Regex(r) = self {
            r.tx_slots = Some(slots.into());
        }
    }

    /// The literal key, if this is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Selector::Key(k) => Some(k),
            Selector::Regex(..) => None,
        }
    }
}

/// The literal run after a leading `^` of a regex without alternation, lower-cased: every key
/// the case-insensitive regex matches starts with it. The run ends at the first byte that is
/// not a letter, digit, `_` or `-`, and drops its last letter when a quantifier follows. `k`
/// and `s` end it too: under Unicode case folding they also match the Kelvin sign and the long
/// s, which a byte comparison would miss.
fn anchored_prefix(pattern: &str) -> Option<String> {
    let rest = pattern.strip_prefix('^')?;
    if pattern.contains('|') {
        return None;
    }
    let bytes = rest.as_bytes();
    let literal = |c: u8| (c.is_ascii_alphanumeric() || c == b'_' || c == b'-') && !matches!(c.to_ascii_lowercase(), b'k' | b's');
    let mut len = bytes.iter().take_while(|&&c| literal(c)).count();
    if matches!(bytes.get(len), Some(b'?' | b'*' | b'+' | b'{')) {
        len = len.saturating_sub(1);
    }
    (len > 0).then(|| rest[..len].to_ascii_lowercase())
}

/// One variable a rule inspects.
#[derive(Debug, Clone)]
pub struct Target {
    /// Which variable.
    pub variable: Variable,
    /// Optional key selector.
    pub selector: Option<Selector>,
    /// `&VAR`: yield the count of values instead of the values.
    pub count: bool,
}

/// A `!VAR:key` exclusion.
#[derive(Debug, Clone)]
pub struct Exclusion {
    /// The variable the exclusion applies to.
    pub variable: Variable,
    /// Which keys; `None` excludes the whole variable.
    pub selector: Option<Selector>,
}

impl Exclusion {
    /// Whether a value with `key` from `variable` is excluded. As in ModSecurity v3, an
    /// exclusion on `ARGS` also covers `ARGS_GET`/`ARGS_POST` and the `*_NAMES` variables, and
    /// one on `REQUEST_COOKIES` / `REQUEST_HEADERS` covers their `*_NAMES`.
    pub fn excludes(&self, variable: Variable, key: &str) -> bool {
        use Variable::*;
        let covers = self.variable == variable
            || match self.variable {
                Args => matches!(variable, ArgsGet | ArgsPost | ArgsNames | ArgsGetNames | ArgsPostNames),
                ArgsGet => variable == ArgsGetNames,
                ArgsPost => variable == ArgsPostNames,
                RequestCookies => variable == RequestCookiesNames,
                RequestHeaders => variable == RequestHeadersNames,
                _ => false,
            };
        covers && match &self.selector { Some(s) => s.matches(key), None => true }
    }
}

/// A compiled variables list: targets and exclusions.
#[derive(Debug, Clone, Default)]
pub struct TargetList {
    /// What to inspect, in order.
    pub targets: Vec<Target>,
    /// What to leave out.
    pub exclusions: Vec<Exclusion>,
}

impl TargetList {
    /// Compile parsed variables, appending to this list.
    pub fn extend(&mut self, raw: &[RawVariable], location: &Location) -> Result<(), LoadError> {
        for v in raw {
            let variable = Variable::from_name(&v.name).ok_or_else(|| LoadError::Variable {
                location: location.clone(),
                variable: v.name.clone(),
                why: "unknown variable".into(),
            })?;
            let selector = match &v.selector {
                Some(s) => Some(Selector::compile(s, location, &v.name)?),
                None => None,
            };
            if v.exclude {
                self.exclusions.push(Exclusion { variable, selector });
            } else {
                self.targets.push(Target { variable, selector, count: v.count });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_prefixes() {
        assert_eq!(anchored_prefix("^header_name_920450_"), Some("header_name_920450_".into()));
        assert_eq!(anchored_prefix("^Abc_d*"), Some("abc_".into()));
        assert_eq!(anchored_prefix("^ab(c)"), Some("ab".into()));
        // `k` and `s` fold to non-ASCII characters; alternations and unanchored patterns have none.
        assert_eq!(anchored_prefix("^ask"), Some("a".into()));
        assert_eq!(anchored_prefix("^a|b"), None);
        assert_eq!(anchored_prefix("paramcounter_.*"), None);
    }

    #[test]
    fn prefix_only_selectors() {
        let only = |p: &str| Selector::regex(p).is_ok_and(|s| s.is_prefix_only());
        assert!(only("^header_name_920450_"));
        assert!(!only("^header_name_920450_x*") && !only("^ask") && !only("^ab(c)") && !only("paramcounter_") && !only("^a|b"));
    }

    #[test]
    fn lowercase_keys_select_as_any_key() {
        let Ok(s) = Selector::regex("MULTIPART_HEADERS_CONTENT_TYPES_*") else { panic!("compiles") };
        for key in ["multipart_headers_content_types_0", "x_multipart_headers_content_type", "Multipart_Headers_Content_Types_1", "paramcounter_a"] {
            assert_eq!(s.matches_lowercase(key), s.matches(key), "{key}");
        }
    }
}
