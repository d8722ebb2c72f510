//! `initcol`, `setuid`, `setsid` (open a persistent collection for this transaction) and
//! `setenv`.

use crate::parser::macros::MacroText;
use crate::vars::Variable;

/// `initcol:ip=%{REMOTE_ADDR}`: load collection `collection` under key `key`.
#[derive(Debug, Clone)]
pub struct InitCol {
    /// `IP`, `GLOBAL`, `SESSION`, `USER` or `RESOURCE`.
    pub collection: Variable,
    /// The record key (macro-expanded at run time).
    pub key: MacroText,
}

impl InitCol {
    /// Parse `name=key`.
    pub fn parse(value: &str) -> Result<InitCol, String> {
        let (name, key) = value.split_once('=').ok_or("expected `collection=key`")?;
        let collection = persistent_collection(name.trim()).ok_or_else(|| format!("`{name}` is not a persistent collection"))?;
        Ok(InitCol { collection, key: MacroText::parse(key.trim()) })
    }
}

/// `IP`, `GLOBAL`, `SESSION`, `USER`, `RESOURCE` by name.
pub fn persistent_collection(name: &str) -> Option<Variable> {
    match name.to_ascii_uppercase().as_str() {
        "IP" => Some(Variable::Ip),
        "GLOBAL" => Some(Variable::Global),
        "SESSION" => Some(Variable::Session),
        "USER" => Some(Variable::User),
        "RESOURCE" => Some(Variable::Resource),
        _ => None,
    }
}

/// `setenv:name=value`.
#[derive(Debug, Clone)]
pub struct SetEnv {
    /// Variable name.
    pub name: String,
    /// Value (macro-expanded at run time).
    pub value: MacroText,
}

impl SetEnv {
    /// Parse `name=value` (a bare `name` sets `1`).
    pub fn parse(value: &str) -> SetEnv {
        let (name, v) = value.split_once('=').unwrap_or((value, "1"));
        SetEnv { name: name.trim().to_string(), value: MacroText::parse(v) }
    }
}
