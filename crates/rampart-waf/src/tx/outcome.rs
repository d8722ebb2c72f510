//! What a transaction reports: the rules that matched and the intervention, if any.

use std::sync::Arc;

/// Why and how the transaction must be interrupted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intervention {
    /// HTTP status to answer with (403 by default for `deny`, 302 for `redirect`).
    pub status: u16,
    /// `redirect:` target.
    pub redirect: Option<String>,
    /// `drop`: close the connection without answering.
    pub drop: bool,
    /// The rule that interrupted (0 for engine-generated interruptions such as body limits).
    pub rule_id: u64,
    /// The phase it happened in.
    pub phase: u8,
}

/// A value that made a rule match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedValue {
    /// `ARGS:foo`.
    pub name: String,
    /// The (transformed) value, at most 512 bytes, lossy UTF-8.
    pub value: String,
}

/// A rule that matched (a chain counts once, under its first rule's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    /// `id:`.
    pub id: u64,
    /// Phase it ran in.
    pub phase: u8,
    /// `msg` expanded.
    pub msg: String,
    /// `logdata` expanded.
    pub data: String,
    /// `severity` (0..=7).
    pub severity: Option<u8>,
    /// `tag`s (shared with the rule).
    pub tags: Arc<[String]>,
    /// `ver`.
    pub ver: Option<Arc<str>>,
    /// `rev`.
    pub rev: Option<Arc<str>>,
    /// `maturity`.
    pub maturity: Option<u8>,
    /// `accuracy`.
    pub accuracy: Option<u8>,
    /// Whether the rule logs (`log` / `nolog`); the error log and go-ftw only see these.
    pub log: bool,
    /// Whether its disruptive action would interrupt (deny/drop/redirect).
    pub disruptive: bool,
    /// Values that matched.
    pub matched: Vec<MatchedValue>,
    /// Rule file.
    pub file: Arc<str>,
    /// Line in the rule file.
    pub line: usize,
}

impl MatchedRule {
    /// A ModSecurity-style error-log line (`[id "942100"] [msg "..."] ...`).
    pub fn log_line(&self) -> String {
        let mut s = format!(
            "ModSecurity: Warning. [file \"{}\"] [line \"{}\"] [id \"{}\"] [msg \"{}\"] [data \"{}\"]",
            self.file,
            self.line,
            self.id,
            escape(&self.msg),
            escape(&self.data)
        );
        for m in &self.matched {
            s.push_str(&format!(" [matched \"{}\"]", escape(&m.name)));
        }
        if let Some(sev) = self.severity {
            s.push_str(&format!(" [severity \"{}\"]", crate::rule::Severity(sev).name()));
        }
        for t in self.tags.iter() {
            s.push_str(&format!(" [tag \"{t}\"]"));
        }
        s
    }
}

/// Escape control characters and quotes as ModSecurity's log does (`\x0d`).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
