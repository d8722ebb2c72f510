//! Engine settings directives (`SecRuleEngine`, body access and limits, logging, …).

use crate::config::{Config, EngineMode, LimitAction};
use crate::error::LoadError;
use crate::parser::Directive;

fn invalid(d: &Directive, why: impl Into<String>) -> LoadError {
    LoadError::InvalidArgument { location: d.arg_location(0), directive: d.name.clone(), why: why.into() }
}

fn one(d: &Directive) -> Result<&str, LoadError> {
    match d.args.as_slice() {
        [a] => Ok(a.as_str()),
        _ => Err(invalid(d, format!("expected one argument, found {}", d.args.len()))),
    }
}

fn on_off(d: &Directive) -> Result<bool, LoadError> {
    match one(d)?.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(invalid(d, format!("expected On or Off, found `{other}`"))),
    }
}

fn number<T: std::str::FromStr>(d: &Directive) -> Result<T, LoadError> {
    let v = one(d)?;
    v.trim().parse().map_err(|_| invalid(d, format!("expected a number, found `{v}`")))
}

fn limit_action(d: &Directive) -> Result<LimitAction, LoadError> {
    match one(d)?.to_ascii_lowercase().as_str() {
        "reject" => Ok(LimitAction::Reject),
        "processpartial" => Ok(LimitAction::ProcessPartial),
        other => Err(invalid(d, format!("expected Reject or ProcessPartial, found `{other}`"))),
    }
}

/// Apply a settings directive (`name` lower-cased).
pub fn apply(config: &mut Config, name: &str, d: &Directive) -> Result<(), LoadError> {
    match name {
        "secruleengine" => {
            let v = one(d)?;
            config.rule_engine = EngineMode::parse(v).ok_or_else(|| invalid(d, format!("expected On, Off or DetectionOnly, found `{v}`")))?;
        }
        "secrequestbodyaccess" => config.request_body_access = on_off(d)?,
        "secresponsebodyaccess" => config.response_body_access = on_off(d)?,
        "secrequestbodylimit" => config.request_body_limit = number(d)?,
        "secrequestbodynofileslimit" => config.request_body_no_files_limit = number(d)?,
        "secrequestbodyinmemorylimit" => {
            number::<u64>(d)?;
        }
        "secrequestbodylimitaction" => config.request_body_limit_action = limit_action(d)?,
        "secresponsebodylimit" => config.response_body_limit = number(d)?,
        "secresponsebodylimitaction" => config.response_body_limit_action = limit_action(d)?,
        "secresponsebodymimetype" => {
            config.response_body_mime_types = d.args.iter().flat_map(|a| a.split_whitespace()).map(str::to_ascii_lowercase).collect()
        }
        "secresponsebodymimetypesclear" => config.response_body_mime_types.clear(),
        "secargumentseparator" => {
            let v = one(d)?;
            config.argument_separator = match v.as_bytes() {
                [b] => *b,
                _ => return Err(invalid(d, "expected a single character")),
            };
        }
        "secargumentslimit" => config.arguments_limit = number(d)?,
        "secrequestbodyjsondepthlimit" => config.body_depth_limit = number(d)?,
        "secpcrematchlimit" => config.pcre_match_limit = number(d)?,
        "secpcrematchlimitrecursion" => config.pcre_match_limit_recursion = number(d)?,
        "seccollectiontimeout" => config.collection_timeout = number(d)?,
        "secwebappid" => config.web_app_id = one(d)?.to_string(),
        "seccomponentsignature" => config.component_signatures.push(one(d)?.to_string()),
        "secunicodemapfile" => {
            let file = d.args.first().ok_or_else(|| invalid(d, "expected a file and a code page"))?;
            let path = match &d.base_dir {
                Some(dir) => dir.join(file),
                None => std::path::PathBuf::from(file),
            };
            if !path.is_file() {
                return Err(invalid(d, format!("failed to locate the unicode map file `{}`", path.display())));
            }
            config.logging.insert(d.name.clone(), d.args.clone());
        }
        "secunicodecodepage" | "sectmpdir" | "secdatadir" | "secuploaddir" | "secuploadkeepfiles"
        | "secuploadfilemode" | "secuploadfilelimit" | "sectmpsaveuploadedfiles" | "secgeolookupdb" | "secserversignature"
        | "seccookieformat" | "secstatusengine" | "sechashengine" | "sechashkey" | "sechashparam" | "sechashmethodrx"
        | "sechashmethodpm" | "secconnengine" | "secremoterules" | "secremoterulesfailaction" | "secxmlexternalentity"
        | "secrulescript" | "secinterceptonerror" | "secstreaminbodyinspection" | "secstreamoutbodyinspection"
        | "secsensorid" | "seccachetransformations" | "secchrootdir" | "seccookiev0separator" | "secdisablebackendcompression"
        | "secgsblookupdb" | "secreadstatestore" | "secrulepermanentlyblocked" | "secconnreadstatelimit"
        | "secconnwritestatelimit" | "secreqbodyinmemorylimit" | "secrequestbodynofileslimitaction" => {
            config.logging.insert(d.name.clone(), d.args.clone());
        }
        n if n.starts_with("secaudit") || n.starts_with("secdebuglog") => {
            config.logging.insert(d.name.clone(), d.args.clone());
        }
        _ => return Err(LoadError::UnknownDirective { location: d.location.clone(), name: d.name.clone() }),
    }
    Ok(())
}
