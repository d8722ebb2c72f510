//! What the pipeline reports: one [`Event`] per security-relevant happening.
//!
//! The proxy emits events; sinks (metrics, the JSON decision log, later the audit trail and the
//! incident tracker) consume them. A sink must not block: it is called on the request path.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::context::{Identity, RequestId};
use crate::verdict::Decision;

/// Something the shield did or saw that an operator may need to account for later.
#[derive(Debug, Clone)]
pub enum Event {
    /// A stage gave a disruptive verdict (enforced or detect-only).
    Decision { at: SystemTime, request: RequestId, client: IpAddr, decision: Decision },
    /// A connection was refused before any request (caps, deny lists, bans).
    ConnectionRefused { at: SystemTime, client: IpAddr, reason: &'static str },
    /// A client was banned until `until`.
    Ban { at: SystemTime, client: IpAddr, until: SystemTime, reason: String },
    /// The mitigation mode changed (`normal`, `elevated`, `under_attack`), by the flood
    /// detector or an operator, with the reason and the request fingerprints that explain it.
    ModeChange {
        at: SystemTime,
        from: &'static str,
        to: &'static str,
        reason: String,
        fingerprints: Vec<String>,
    },
    /// The running configuration changed (reload), or a reload was refused. `digest` is
    /// `sha256:HEX` of the configuration text that was offered, when there was one to read.
    ConfigReload { at: SystemTime, ok: bool, detail: String, digest: Option<String> },
    /// A stage recognised an attack pattern across requests (credential stuffing, password
    /// spraying, an id enumeration) or a breach of a data budget, and how it answers.
    /// `identity` is hashed where it is personal (user names, sessions, subjects); no field
    /// ever holds a password.
    Detection {
        at: SystemTime,
        /// The stage's name (`login_guard`, `exfiltration`).
        stage: &'static str,
        /// What was recognised, stable for filtering: `credential_stuffing_many_usernames`,
        /// `credential_stuffing_one_username`, `credential_stuffing_distributed`,
        /// `password_spraying`, `enumeration`, `enumeration_distributed`, `budget_records`, ...
        pattern: &'static str,
        /// The client of the request that tipped it.
        client: IpAddr,
        /// Who the pattern is pinned on: `client:ADDR`, `prefix:NET`, `user#HASH`,
        /// `subject#HASH`, `cookie:NAME#HASH`, or `*` for a pattern across many sources.
        identity: String,
        /// The route or path concerned.
        route: String,
        /// How much: `"212 failures from 61 sources in 60s"`, `"5000 records in 10m"`.
        volume: String,
        /// The answer from now on: `throttle`, `challenge`, `block`, `alert`.
        response: &'static str,
    },
    /// A request the audit trail accounts for was answered: one to a route marked sensitive,
    /// or one a stage flagged without stopping it (detect-only). Emitted once the response
    /// body has been sent or abandoned, so that it holds what went out. Boxed: it is larger
    /// than every other event.
    Access(Box<Access>),
    /// An operator's call to the admin API that changes the shield (reload, mode), or tried
    /// to: `actor` says who (the admin token's holder, from which address).
    Admin { at: SystemTime, actor: String, action: &'static str, ok: bool, detail: String },
}

/// One answered request, for [`Event::Access`].
#[derive(Debug, Clone)]
pub struct Access {
    /// When the request arrived.
    pub at: SystemTime,
    pub request: RequestId,
    pub client: IpAddr,
    /// Who, as far as the shield verified it (class, verified subject, clearance).
    pub identity: Identity,
    pub method: http::Method,
    /// The route's name.
    pub route: Arc<str>,
    /// The path, without the query (which may hold personal data or secrets).
    pub path: String,
    /// The route is marked `sensitive`.
    pub sensitive: bool,
    /// The status sent to the client.
    pub status: u16,
    /// The upstream's status, when the upstream answered.
    pub upstream_status: Option<u16>,
    /// Response body bytes sent to the client.
    pub bytes: u64,
    /// Records in the response, when a stage counted them (the exfiltration guard's `records`
    /// tag); `None` when nothing counted.
    pub records: Option<u64>,
    /// The body was sent whole (`false`: the client went away or the body failed).
    pub complete: bool,
    /// Disruptive verdicts given and not enforced: `(stage, reason)`.
    pub flagged: Vec<(&'static str, String)>,
    /// WAF rules that matched and count (the `waf.rule` tags).
    pub rules: Vec<String>,
}

/// A consumer of events.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

/// Drops every event: for tests and tools.
pub struct NullSink;

impl EventSink for NullSink {
    fn emit(&self, _event: Event) {}
}
