//! Applying an actions list to a rule: metadata, flow, transformations, disruptive and
//! non-disruptive actions. Used for `SecRule`/`SecAction`, for `SecDefaultAction` inheritance
//! and for `SecRuleUpdateActionById`.

use super::Registry;
use crate::actions::{Action, Ctl, Disruptive, InitCol, SetEnv, SetVar};
use crate::error::{LoadError, Location};
use crate::parser::actions::RawAction;
use crate::parser::macros::MacroText;
use crate::rule::{Rule, Severity, Transformation};
use crate::vars::Variable;

/// Parse a `phase:` value: 1..=5, `request` (2), `response` (4), `logging` (5).
pub fn parse_phase(value: &str) -> Option<u8> {
    match value.trim().to_ascii_lowercase().as_str() {
        "request" => Some(2),
        "response" => Some(4),
        "logging" => Some(5),
        other => other.parse().ok().filter(|p| (1..=5).contains(p)),
    }
}

/// The `phase:` of an actions list, if given.
pub fn phase_of(actions: &[RawAction], location: &Location) -> Result<Option<u8>, LoadError> {
    let mut phase = None;
    for a in actions.iter().filter(|a| a.name == "phase") {
        let v = a.value.as_deref().unwrap_or("");
        phase = Some(parse_phase(v).ok_or_else(|| action_error(location, "phase", format!("bad phase `{v}`")))?);
    }
    Ok(phase)
}

fn action_error(location: &Location, action: &str, why: impl Into<String>) -> LoadError {
    LoadError::Action { location: location.clone(), action: action.to_string(), why: why.into() }
}

/// Check a `SecDefaultAction` list as ModSecurity does: it must name a disruptive action and
/// may not carry `id`, flow actions or `t:none`.
pub fn check_default_actions(actions: &[RawAction], location: &Location) -> Result<(), LoadError> {
    const DISRUPTIVE: [&str; 6] = ["pass", "deny", "drop", "allow", "redirect", "proxy"];
    const NOT_SUITABLE: [&str; 4] = ["id", "chain", "skip", "skipafter"];
    if let Some(a) = actions.iter().find(|a| NOT_SUITABLE.contains(&a.name.as_str())) {
        return Err(action_error(location, &a.name, "not suitable for SecDefaultAction"));
    }
    if actions.iter().any(|a| a.name == "t" && a.value.as_deref().is_some_and(|v| v.trim().eq_ignore_ascii_case("none"))) {
        return Err(action_error(location, "t", "the transformation none is not suitable for SecDefaultAction"));
    }
    if !actions.iter().any(|a| DISRUPTIVE.contains(&a.name.as_str())) {
        return Err(action_error(location, "SecDefaultAction", "must specify a disruptive action"));
    }
    Ok(())
}

/// Apply `actions` to `rule`.
/// `block` sets [`Rule::is_block`]; a later explicit disruptive action clears it.
pub fn apply(rule: &mut Rule, actions: &[RawAction], location: &Location, registry: &Registry) -> Result<(), LoadError> {
    for a in actions {
        let name = a.name.as_str();
        let value = a.value.as_deref();
        let need = |what: &str| value.ok_or_else(|| action_error(location, name, format!("expected {what}")));
        if let Some(d) = Disruptive::parse(name, value) {
            rule.disruptive = d.map_err(|why| action_error(location, name, why))?;
            rule.is_block = false;
            continue;
        }
        match name {
            "id" => {
                let v = need("a number")?;
                rule.id = v.trim().parse().map_err(|_| action_error(location, name, format!("`{v}` is not a rule id")))?;
            }
            "phase" => {}
            "chain" => {}
            "block" => rule.is_block = true,
            "msg" => {
                let v = need("a message")?;
                rule.metadata.msg = Some(MacroText::parse(v));
                rule.metadata.msg_raw = Some(v.to_string());
            }
            "logdata" => rule.metadata.logdata = Some(MacroText::parse(need("text")?)),
            "severity" => {
                let v = need("a severity")?;
                rule.metadata.severity =
                    Some(Severity::parse(v).ok_or_else(|| action_error(location, name, format!("bad severity `{v}`")))?);
            }
            "tag" => rule.metadata.tags.push(need("a tag")?.to_string()),
            "ver" => rule.metadata.ver = Some(need("a version")?.to_string()),
            "rev" => rule.metadata.rev = Some(need("a revision")?.to_string()),
            "maturity" => rule.metadata.maturity = need("a number")?.trim().parse().ok(),
            "accuracy" => rule.metadata.accuracy = need("a number")?.trim().parse().ok(),
            "t" => {
                let t = need("a transformation name")?.trim();
                if t.eq_ignore_ascii_case("none") {
                    rule.transforms.clear();
                } else {
                    let function = registry.transform(t).ok_or_else(|| LoadError::UnknownTransformation {
                        location: location.clone(),
                        name: t.to_string(),
                    })?;
                    rule.transforms.push(Transformation {
                        name: t.to_string(),
                        function,
                        unchanged_without: crate::transform::unchanged_without(function),
                        bytes: crate::transform::ByteEffect::of(function),
                    });
                }
            }
            "multimatch" => rule.multi_match = true,
            "capture" => rule.capture = true,
            "log" => rule.log = true,
            "nolog" => {
                rule.log = false;
                rule.audit_log = false;
            }
            "auditlog" => rule.audit_log = true,
            "noauditlog" => rule.audit_log = false,
            "status" => {
                let v = need("a status code")?;
                rule.status = Some(v.trim().parse().map_err(|_| action_error(location, name, format!("bad status `{v}`")))?);
            }
            "skip" => {
                let v = need("a count")?;
                rule.skip = v.trim().parse().map_err(|_| action_error(location, name, format!("bad count `{v}`")))?;
            }
            "skipafter" => rule.skip_after = Some(need("a marker")?.trim().to_string()),
            "setvar" => rule.actions.push(Action::SetVar(SetVar::parse(need("a variable")?).map_err(|w| action_error(location, name, w))?)),
            "ctl" => rule.actions.push(Action::Ctl(Ctl::parse(need("an option")?, location).map_err(|w| action_error(location, name, w))?)),
            "initcol" => rule.actions.push(Action::InitCol(InitCol::parse(need("collection=key")?).map_err(|w| action_error(location, name, w))?)),
            "setuid" | "setsid" => {
                let collection = if name == "setuid" { Variable::User } else { Variable::Session };
                rule.actions.push(Action::InitCol(InitCol { collection, key: MacroText::parse(need("a key")?) }));
            }
            "setenv" => rule.actions.push(Action::SetEnv(SetEnv::parse(need("name=value")?))),
"xmlns" => {
                let v = need("prefix=uri")?;
                let (prefix, href) = v.split_once('=').ok_or_else(|| action_error(location, name, "bad format, missing equals sign"))?;
                if prefix.trim().is_empty() || href.trim().is_empty() || href.trim().starts_with(['\'', '"']) {
                    return Err(action_error(location, name, "expected `prefix=href`"));
                }
            }
            "expirevar" => rule.actions.push(Action::ExpireVar(
                crate::actions::ExpireVar::parse(need("collection.key=seconds")?).map_err(|w| action_error(location, name, w))?,
            )),
            "deprecatevar" | "setrsc" | "sanitisearg" | "sanitisematched" | "sanitisematchedbytes"
            | "sanitiserequestheader" | "sanitiseresponseheader" | "append" | "prepend" | "exec" | "pause" => {}
            _ => return Err(action_error(location, name, "unknown action")),
        }
    }
    Ok(())
}
