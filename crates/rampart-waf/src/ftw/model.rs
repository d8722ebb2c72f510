//! The go-ftw YAML test format (as used by `coreruleset/tests/regression/tests/**.yaml`).
//! Unknown fields are ignored so that newer schema additions do not break reading.

use serde::Deserialize;

/// One YAML file: tests for one rule.
#[derive(Debug, Clone, Deserialize)]
pub struct TestFile {
    /// The rule these tests target.
    #[serde(default)]
    pub rule_id: u64,
    /// The tests.
    #[serde(default)]
    pub tests: Vec<Test>,
}

/// One test: stages run in order on fresh transactions.
#[derive(Debug, Clone, Deserialize)]
pub struct Test {
    /// Number within the file.
    #[serde(default)]
    pub test_id: u32,
    /// What the test checks.
    #[serde(default)]
    pub desc: Option<String>,
    /// Request/expectation pairs.
    #[serde(default)]
    pub stages: Vec<Stage>,
}

/// A request and what should come of it.
#[derive(Debug, Clone, Deserialize)]
pub struct Stage {
    /// The request.
    pub input: Input,
    /// The expectation.
    #[serde(default)]
    pub output: Output,
}

/// How to build the request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Input {
    /// Server address.
    #[serde(default)]
    pub dest_addr: Option<String>,
    /// Server port.
    #[serde(default)]
    pub port: Option<u16>,
    /// `http` / `https`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Method (default `GET`).
    #[serde(default)]
    pub method: Option<String>,
    /// Request target (default `/`).
    #[serde(default)]
    pub uri: Option<String>,
    /// HTTP version (default `HTTP/1.1`).
    #[serde(default)]
    pub version: Option<String>,
    /// Headers in order.
    #[serde(default)]
    pub headers: Option<serde_yaml::Mapping>,
    /// Body.
    #[serde(default)]
    pub data: Option<String>,
    /// The whole request, base64-encoded (used as is).
    #[serde(default)]
    pub encoded_request: Option<String>,
    /// Add `Content-Length` / `Connection` when missing (default true).
    #[serde(default)]
    pub autocomplete_headers: Option<bool>,
}

impl Input {
    /// Headers as (name, value) pairs, in file order.
    pub fn header_list(&self) -> Vec<(String, String)> {
        let Some(map) = &self.headers else { return Vec::new() };
        map.iter().filter_map(|(k, v)| Some((scalar(k)?, scalar(v).unwrap_or_default()))).collect()
    }
}

fn scalar(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Null => Some(String::new()),
        _ => None,
    }
}

/// What the test expects.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Output {
    /// Expected HTTP status (one or several).
    #[serde(default)]
    pub status: Option<StatusSpec>,
    /// Expectations on the WAF's log.
    #[serde(default)]
    pub log: Option<LogExpect>,
    /// The response should contain this text.
    #[serde(default)]
    pub response_contains: Option<String>,
    /// The request should fail at the HTTP level.
    #[serde(default)]
    pub expect_error: Option<bool>,
    /// Legacy: the log should match this regex.
    #[serde(default)]
    pub log_contains: Option<String>,
    /// Legacy: the log should not match this regex.
    #[serde(default)]
    pub no_log_contains: Option<String>,
}

/// Expected status: one code or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusSpec {
    /// One code.
    One(u16),
    /// Any of these.
    Many(Vec<u16>),
}

impl StatusSpec {
    /// Whether `status` is acceptable.
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            StatusSpec::One(s) => *s == status,
            StatusSpec::Many(v) => v.contains(&status),
        }
    }
}

/// Expectations on the log.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogExpect {
    /// Every one of these ids must be logged.
    #[serde(default)]
    pub expect_ids: Vec<u64>,
    /// None of these ids may be logged.
    #[serde(default)]
    pub no_expect_ids: Vec<u64>,
    /// The log must match this regex.
    #[serde(default)]
    pub match_regex: Option<String>,
    /// The log must not match this regex.
    #[serde(default)]
    pub no_match_regex: Option<String>,
}

/// Read a test file.
pub fn read_test_file(path: &std::path::Path) -> Result<TestFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
