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
    /// Keys matching a regex (compiled case-insensitive, as ModSecurity does), with the
    /// literals one of which a matching key must contain, when there are such: CRS exclusions
    /// such as `!REQUEST_COOKIES:/^_pk_ref/` are checked for every cookie by many rules, and
    /// most keys lack the literal.
    Regex(Regex, Option<RequiredLiterals>),
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
        let pattern = format!("(?i){pattern}");
        let regex = Regex::new(&pattern)?;
        Ok(Selector::Regex(regex, RequiredLiterals::new_unicode(&pattern)))
    }

    /// Whether `key` is selected.
    pub fn matches(&self, key: &str) -> bool {
        match self {
            Selector::Key(k) => k.eq_ignore_ascii_case(key),
            Selector::Regex(r, required) => required.as_ref().is_none_or(|l| l.may_match(key.as_bytes())) && r.is_match(key),
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
