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

/// `expirevar:collection.key=seconds`.
#[derive(Debug, Clone)]
pub struct ExpireVar {
    /// `TX` or a persistent collection.
    pub collection: Variable,
    /// The variable's key (macro-expanded at run time).
    pub key: MacroText,
    /// Seconds from now (macro-expanded at run time).
    pub seconds: MacroText,
}

impl ExpireVar {
    /// Parse `collection.key=seconds`.
    pub fn parse(value: &str) -> Result<ExpireVar, String> {
        let (target, seconds) = value.split_once('=').ok_or("expected `collection.key=seconds`")?;
        let (collection, key) = target.trim().split_once('.').ok_or("expected `collection.key`")?;
        let collection = match collection.to_ascii_uppercase().as_str() {
            "TX" => Variable::Tx,
            other => persistent_collection(other).ok_or_else(|| format!("`{collection}` is not a collection"))?,
        };
        Ok(ExpireVar { collection, key: MacroText::parse(key), seconds: MacroText::parse(seconds.trim()) })
    }
}

/// The key under which a variable's expiry time (seconds since the epoch) is kept in its
/// record, as ModSecurity does (`__expire_<key>`).
pub fn expiry_key(key: &str) -> String {
    format!("__expire_{key}")
}

/// Drop the variables of `record` whose expiry time is at or before `now` (seconds since
/// the epoch), and their expiry entries.
pub fn purge_expired(record: &mut std::collections::BTreeMap<String, Vec<u8>>, now: u64) {
    let expired: Vec<String> = record
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("__expire_")?;
            let at: u64 = String::from_utf8_lossy(v).trim().parse().ok()?;
            (at <= now).then(|| name.to_string())
        })
        .collect();
    for name in expired {
        record.remove(&expiry_key(&name));
        record.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry() {
        let mut r = std::collections::BTreeMap::new();
        r.insert("a".to_string(), b"1".to_vec());
        r.insert(expiry_key("a"), b"100".to_vec());
        r.insert("b".to_string(), b"1".to_vec());
        purge_expired(&mut r, 99);
        assert!(r.contains_key("a"));
        purge_expired(&mut r, 100);
        assert!(!r.contains_key("a") && r.contains_key("b") && r.len() == 1);
        assert!(ExpireVar::parse("ip.blocked=600").is_ok());
        assert!(ExpireVar::parse("nope").is_err());
    }
}
