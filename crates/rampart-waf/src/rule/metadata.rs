//! Rule metadata: `msg`, `logdata`, `severity`, `tag`, `ver`, `rev`, `maturity`, `accuracy`.

use crate::parser::macros::MacroText;

/// Syslog-style severity (0 = EMERGENCY … 7 = DEBUG).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Severity(pub u8);

impl Severity {
    /// Parse a name (`CRITICAL`) or a number (`2`).
    pub fn parse(text: &str) -> Option<Severity> {
        let names = ["EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"];
        if let Ok(n) = text.parse::<u8>() {
            return (n <= 7).then_some(Severity(n));
        }
        names.iter().position(|n| n.eq_ignore_ascii_case(text)).map(|p| Severity(p as u8))
    }

    /// The upper-case name.
    pub fn name(self) -> &'static str {
        ["EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"]
            .get(usize::from(self.0))
            .copied()
            .unwrap_or("DEBUG")
    }
}

/// Descriptive fields of a rule.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// `msg:` (may contain macros).
    pub msg: Option<MacroText>,
    /// `logdata:` (may contain macros).
    pub logdata: Option<MacroText>,
    /// `severity:`.
    pub severity: Option<Severity>,
    /// `tag:` values, in order.
    pub tags: Vec<String>,
    /// `ver:`.
    pub ver: Option<String>,
    /// `rev:`.
    pub rev: Option<String>,
    /// `maturity:`.
    pub maturity: Option<u8>,
    /// `accuracy:`.
    pub accuracy: Option<u8>,
    /// The raw `msg` text (for `ctl:ruleRemoveByMsg` and `RULE.msg`).
    pub msg_raw: Option<String>,
}
