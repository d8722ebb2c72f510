//! `ctl`: change this transaction's configuration from a rule
//! (`ctl:ruleRemoveTargetById=942100;ARGS:password`, `ctl:ruleEngine=DetectionOnly`, …).

use crate::config::{BodyProcessorKind, EngineMode};
use crate::error::Location;
use crate::parser::variables;
use crate::vars::target::{Exclusion, TargetList};

/// An inclusive range of rule ids.
pub type IdRange = (u64, u64);

/// A parsed `ctl` action.
#[derive(Debug, Clone)]
pub enum Ctl {
    /// `ruleEngine=On|Off|DetectionOnly`.
    RuleEngine(EngineMode),
    /// `ruleRemoveById=1-100 200`.
    RuleRemoveById(Vec<IdRange>),
    /// `ruleRemoveByTag=TAG` (exact match).
    RuleRemoveByTag(String),
    /// `ruleRemoveByMsg=MSG` (exact match).
    RuleRemoveByMsg(String),
    /// `ruleRemoveTargetById=ID;ARGS:foo`.
    RuleRemoveTargetById(Vec<IdRange>, Vec<Exclusion>),
    /// `ruleRemoveTargetByTag=TAG;ARGS:foo`.
    RuleRemoveTargetByTag(String, Vec<Exclusion>),
    /// `ruleRemoveTargetByMsg=MSG;ARGS:foo`.
    RuleRemoveTargetByMsg(String, Vec<Exclusion>),
    /// `requestBodyProcessor=JSON|XML|URLENCODED|MULTIPART`.
    RequestBodyProcessor(BodyProcessorKind),
    /// `requestBodyAccess=On|Off`.
    RequestBodyAccess(bool),
    /// `responseBodyAccess=On|Off`.
    ResponseBodyAccess(bool),
    /// `forceRequestBodyVariable=On|Off`.
    ForceRequestBodyVariable(bool),
    /// `requestBodyLimit=N`.
    RequestBodyLimit(usize),
    /// Accepted and ignored here (`auditEngine`, `auditLogParts`, `debugLogLevel`, `hashEngine`…).
    Accepted(String),
}

impl Ctl {
    /// Parse a `ctl` value.
    pub fn parse(value: &str, location: &Location) -> Result<Ctl, String> {
        let (name, arg) = value.split_once('=').ok_or("expected `option=value`")?;
        let arg = arg.trim();
        let on_off = || match arg.to_ascii_lowercase().as_str() {
            "on" => Ok(true),
            "off" => Ok(false),
            _ => Err(format!("expected On or Off, found `{arg}`")),
        };
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "ruleengine" => Ctl::RuleEngine(EngineMode::parse(arg).ok_or_else(|| format!("bad engine mode `{arg}`"))?),
            "ruleremovebyid" => Ctl::RuleRemoveById(parse_id_ranges(arg)?),
            "ruleremovebytag" => Ctl::RuleRemoveByTag(arg.to_string()),
            "ruleremovebymsg" => Ctl::RuleRemoveByMsg(arg.to_string()),
            "ruleremovetargetbyid" => {
                let (ids, targets) = split_targets(arg, location)?;
                Ctl::RuleRemoveTargetById(parse_id_ranges(ids)?, targets)
            }
            "ruleremovetargetbytag" => {
                let (tag, targets) = split_targets(arg, location)?;
                Ctl::RuleRemoveTargetByTag(tag.to_string(), targets)
            }
            "ruleremovetargetbymsg" => {
                let (msg, targets) = split_targets(arg, location)?;
                Ctl::RuleRemoveTargetByMsg(msg.to_string(), targets)
            }
            "requestbodyprocessor" => Ctl::RequestBodyProcessor(
                BodyProcessorKind::parse(arg).ok_or_else(|| format!("unknown body processor `{arg}`"))?,
            ),
            "requestbodyaccess" => Ctl::RequestBodyAccess(on_off()?),
            "responsebodyaccess" => Ctl::ResponseBodyAccess(on_off()?),
            "forcerequestbodyvariable" => Ctl::ForceRequestBodyVariable(on_off()?),
            "requestbodylimit" => Ctl::RequestBodyLimit(arg.parse().map_err(|_| format!("bad limit `{arg}`"))?),
            "auditengine" | "auditlogparts" | "debugloglevel" | "hashengine" | "hashenforcement"
            | "responsebodylimit" | "parsexmlintoargs" => Ctl::Accepted(name.to_string()),
            other => return Err(format!("unknown ctl option `{other}`")),
        })
    }
}

fn split_targets<'a>(arg: &'a str, location: &Location) -> Result<(&'a str, Vec<Exclusion>), String> {
    let (head, targets) = arg.split_once(';').ok_or("expected `selector;VARIABLE`")?;
    let raw = variables::parse(targets, location).map_err(|e| e.to_string())?;
    let mut list = TargetList::default();
    list.extend(&raw, location).map_err(|e| e.to_string())?;
    let exclusions = list
        .targets
        .into_iter()
        .map(|t| Exclusion { variable: t.variable, selector: t.selector })
        .chain(list.exclusions)
        .collect();
    Ok((head.trim(), exclusions))
}

/// Parse `1 2 10-20` or `1,2` into ranges.
pub fn parse_id_ranges(text: &str) -> Result<Vec<IdRange>, String> {
    let mut out = Vec::new();
    for part in text.split(|c: char| c.is_ascii_whitespace() || c == ',').filter(|p| !p.is_empty()) {
        let part = part.trim_matches('"');
        let range = match part.split_once('-') {
            Some((a, b)) => (parse_id(a)?, parse_id(b)?),
            None => {
                let id = parse_id(part)?;
                (id, id)
            }
        };
        out.push(range);
    }
    if out.is_empty() {
        return Err("expected rule ids".into());
    }
    Ok(out)
}

fn parse_id(text: &str) -> Result<u64, String> {
    text.trim().parse().map_err(|_| format!("`{text}` is not a rule id"))
}

/// Whether `id` is in any of `ranges`.
pub fn in_ranges(ranges: &[IdRange], id: u64) -> bool {
    ranges.iter().any(|&(a, b)| a <= id && id <= b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    #[test]
    fn parses() {
        let loc = Location::new(Arc::new(PathBuf::from("x")), 1);
        match Ctl::parse("ruleRemoveTargetById=942100;ARGS:foo", &loc).unwrap() {
            Ctl::RuleRemoveTargetById(ids, t) => {
                assert_eq!(ids, vec![(942100, 942100)]);
                assert_eq!(t.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_id_ranges("1-5 9").unwrap(), vec![(1, 5), (9, 9)]);
        assert!(Ctl::parse("bogus=1", &loc).is_err());
    }
}
