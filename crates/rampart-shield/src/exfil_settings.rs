//! [`ExfilSettings`]: one `[[exfiltration]]` entry as the [`crate::ExfiltrationGuard`] uses it.

use std::time::Duration;

use http::HeaderName;
use rampart_core::StageMode;

/// Who a budget belongs to: one alternative of `identity = "staff:session|client"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    Client,
    /// The client's /24 or /64.
    Prefix,
    Header(HeaderName),
    Cookie(String),
    /// The request's clearance token (a solved challenge).
    Clearance,
    /// A member of this priority class (set by the priority stage): per verified subject when
    /// there is one, else per address (a staff network).
    Class(String),
}

/// How a response's records are counted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RecordCount {
    /// `x-record-count` when the app sets it; else a JSON array's length, CSV lines less the
    /// header, or 1.
    #[default]
    Auto,
    Json,
    Csv,
    Header(HeaderName),
}

/// What may be taken per `per`. `None`: not limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExfilBudget {
    pub requests: Option<u32>,
    pub records: Option<u32>,
    pub bytes: Option<u64>,
    pub per: Duration,
}

/// Id walks over `{prefix}{id}{suffix}` paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumerationSettings {
    pub prefix: String,
    pub suffix: String,
    /// Distinct ids one identity may view per `per`.
    pub max_ids: u32,
    /// Views of an id next to one the same identity viewed.
    pub max_steps: u32,
    /// The same across every identity without a class: a walk split over many sources. Once
    /// reached, every such identity is refused the id pages for `per`.
    pub max_steps_all: u32,
    pub per: Duration,
}

/// The answer to a breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExfilAction {
    #[default]
    Block,
    Throttle,
    Challenge,
    /// Report only.
    Alert,
}

/// One sensitive route's budget.
#[derive(Debug, Clone)]
pub struct ExfilSettings {
    /// The route's path prefix.
    pub path: String,
    pub identity: Vec<IdentitySource>,
    pub budget: ExfilBudget,
    pub records_from: RecordCount,
    pub enumeration: Option<EnumerationSettings>,
    /// Patterns no response body may match: the response is withheld, whoever asked.
    pub never_leave: Vec<regex::bytes::Regex>,
    pub action: ExfilAction,
    /// `Detect`: breaches are reported and tagged, never refused.
    pub mode: StageMode,
    /// Bytes for this entry's counts. Default 2 MiB.
    pub memory_bytes: usize,
}

impl ExfilSettings {
    /// `path` with `budget`, identity `client`, nothing else.
    pub fn new(path: impl Into<String>, budget: ExfilBudget) -> ExfilSettings {
        ExfilSettings {
            path: path.into(),
            identity: vec![IdentitySource::Client],
            budget,
            records_from: RecordCount::Auto,
            enumeration: None,
            never_leave: Vec::new(),
            action: ExfilAction::Block,
            mode: StageMode::Enforce,
            memory_bytes: 2 << 20,
        }
    }
}
