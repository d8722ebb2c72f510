//! Directives that change other rules: `SecRuleRemoveBy*`, `SecRuleUpdateTargetBy*`,
//! `SecRuleUpdateActionById`. As in ModSecurity v3 (which keeps them as rule exceptions), they
//! apply to every rule of the configuration, whether defined before or after them: they are
//! checked when read and applied when the engine is built.

use regex::Regex;

use super::{rule_actions, Builder};
use crate::actions::ctl::{in_ranges, parse_id_ranges};
use crate::error::LoadError;
use crate::parser::{actions as raw_actions, variables, Directive};
use crate::rule::{Item, Rule};

/// Whether this module handles directive `name` (lower-cased).
pub fn handles(name: &str) -> bool {
    matches!(
        name,
        "secruleremovebyid"
            | "secruleremovebytag"
            | "secruleremovebymsg"
            | "secruleupdatetargetbyid"
            | "secruleupdatetargetbytag"
            | "secruleupdatetargetbymsg"
            | "secruleupdateactionbyid"
    )
}

fn invalid(d: &Directive, why: impl Into<String>) -> LoadError {
    LoadError::InvalidArgument { location: d.arg_location(0), directive: d.name.clone(), why: why.into() }
}

/// How a directive picks rules.
enum Pick {
    Ids(Vec<(u64, u64)>),
    Text(Regex, fn(&Rule) -> Vec<&str>),
}

impl Pick {
    fn matches(&self, rule: &Rule) -> bool {
        match self {
            Pick::Ids(ranges) => in_ranges(ranges, rule.id),
            Pick::Text(re, fields) => fields(rule).iter().any(|f| re.is_match(f)),
        }
    }
}

fn tags(rule: &Rule) -> Vec<&str> {
    rule.metadata.tags.iter().map(String::as_str).collect()
}

fn msg(rule: &Rule) -> Vec<&str> {
    rule.metadata.msg_raw.as_deref().into_iter().collect()
}

fn pick(d: &Directive, by: &str, text: &str) -> Result<Pick, LoadError> {
    if by == "id" {
        return parse_id_ranges(text).map(Pick::Ids).map_err(|w| invalid(d, w));
    }
    let re = Regex::new(text).or_else(|_| Regex::new(&regex::escape(text))).map_err(|e| invalid(d, e.to_string()))?;
    Ok(Pick::Text(re, if by == "tag" { tags } else { msg }))
}

/// Check the directive now and keep it for [`apply`] at build time.
pub fn defer(b: &mut Builder, name: &str, d: &Directive) -> Result<(), LoadError> {
    let by = if name.ends_with("byid") { "id" } else if name.ends_with("bytag") { "tag" } else { "msg" };
    if name.starts_with("secruleremove") {
        if d.args.is_empty() {
            return Err(invalid(d, "expected a selector"));
        }
        for a in &d.args {
            pick(d, by, a)?;
        }
    } else {
        let (selector, arg) = match d.args.as_slice() {
            [s, a] | [s, a, _] => (s, a),
            _ => return Err(invalid(d, "expected a rule selector and a list")),
        };
        pick(d, by, selector)?;
        if name.starts_with("secruleupdatetarget") {
            let raw = variables::parse(arg, &d.arg_location(1))?;
            crate::vars::target::TargetList::default().extend(&raw, &d.arg_location(1))?;
        } else {
            raw_actions::parse(arg, &d.arg_location(1))?;
        }
    }
    b.updates.push((name.to_string(), d.clone()));
    Ok(())
}

/// Apply the directive.
pub fn apply(b: &mut Builder, name: &str, d: &Directive) -> Result<(), LoadError> {
    let by = if name.ends_with("byid") { "id" } else if name.ends_with("bytag") { "tag" } else { "msg" };
    if name.starts_with("secruleremove") {
        if d.args.is_empty() {
            return Err(invalid(d, "expected a selector"));
        }
        let picks = if by == "id" {
            vec![pick(d, by, &d.args.join(" "))?]
        } else {
            d.args.iter().map(|a| pick(d, by, a)).collect::<Result<Vec<_>, _>>()?
        };
        b.items.retain(|i| match i {
            Item::Rule(r) => !picks.iter().any(|p| p.matches(r)),
            Item::Marker(_) => true,
        });
        return Ok(());
    }
    let (selector, arg) = match d.args.as_slice() {
        [s, a] | [s, a, _] => (s, a),
        _ => return Err(invalid(d, "expected a rule selector and a list")),
    };
    let p = pick(d, by, selector)?;
    if name.starts_with("secruleupdatetarget") {
        let raw = variables::parse(arg, &d.arg_location(1))?;
        for item in b.items.iter_mut() {
            if let Item::Rule(r) = item {
                if p.matches(r) {
                    r.targets.extend(&raw, &d.arg_location(1))?;
                }
            }
        }
    } else {
        let raw = raw_actions::parse(arg, &d.arg_location(1))?;
        let registry = std::mem::take(&mut b.registry);
        let mut result = Ok(());
        for item in b.items.iter_mut() {
            if let Item::Rule(r) = item {
                if p.matches(r) {
                    if let Err(e) = rule_actions::apply(r, &raw, &d.arg_location(1), &registry) {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        b.registry = registry;
        result?;
    }
    Ok(())
}
