//! What the pipeline reports: one [`Event`] per security-relevant happening.
//!
//! The proxy emits events; sinks (metrics, the JSON decision log, later the audit trail and the
//! incident tracker) consume them. A sink must not block: it is called on the request path.

use std::net::IpAddr;
use std::time::SystemTime;

use crate::context::RequestId;
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
    /// The running configuration changed (reload), or a reload was refused.
    ConfigReload { at: SystemTime, ok: bool, detail: String },
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
