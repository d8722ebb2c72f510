//! What the WAF stage logged, per request: a `tracing` layer that keeps the `rampart::waf`
//! events (one per matched rule that logs, written by the stage's logging phase) keyed by
//! request id.
//!
//! The runner reads the `x-request-id` of the response it received and takes that request's
//! entries. The logging phase runs before the proxy hands the response to hyper, so the entries
//! are complete by the time the client has read the status line. Entries of requests nobody
//! asked for (a client that gave up) are dropped by [`WafLog::clear`] between stages, so memory
//! stays bounded over a whole suite.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The target the WAF stage logs matched rules under.
pub const WAF_TARGET: &str = "rampart::waf";

/// One matched rule as the WAF stage logged it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoggedRule {
    pub id: u64,
    pub msg: String,
    pub data: String,
}

impl LoggedRule {
    /// The rule as an error-log line in ModSecurity's shape, for the tests that match the log
    /// against a regex (`[id "942100"]`, `Matched Data: … found within ARGS:x`).
    pub fn log_line(&self) -> String {
        format!("ModSecurity: Warning. [id \"{}\"] [msg \"{}\"] [data \"{}\"]", self.id, escape(&self.msg), escape(&self.data))
    }
}

/// The collected entries, shared between the layer (writer) and the runner (reader).
#[derive(Clone, Default)]
pub struct WafLog {
    by_request: Arc<Mutex<HashMap<String, Vec<LoggedRule>>>>,
}

impl WafLog {
    /// Remove and return what was logged for `request_id`, in logging order.
    pub fn take(&self, request_id: &str) -> Vec<LoggedRule> {
        match self.by_request.lock() {
            Ok(mut map) => map.remove(request_id).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Forget everything (between stages).
    pub fn clear(&self) {
        if let Ok(mut map) = self.by_request.lock() {
            map.clear();
        }
    }
}

impl<S: Subscriber> Layer<S> for WafLog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != WAF_TARGET {
            return;
        }
        let mut fields = RuleFields::default();
        event.record(&mut fields);
        let (Some(request_id), Some(id)) = (fields.request_id, fields.rule) else { return };
        if let Ok(mut map) = self.by_request.lock() {
            map.entry(request_id).or_default().push(LoggedRule { id, msg: fields.msg, data: fields.data });
        }
    }
}

#[derive(Default)]
struct RuleFields {
    request_id: Option<String>,
    rule: Option<u64>,
    msg: String,
    data: String,
}

impl Visit for RuleFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "rule" {
            self.rule = Some(value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(v) = u64::try_from(value) {
            self.record_u64(field, v);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.set_text(field, value.to_string());
    }

    // `%value` fields (request id, msg, data) arrive here, formatted with their Display.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set_text(field, format!("{value:?}"));
    }
}

impl RuleFields {
    fn set_text(&mut self, field: &Field, text: String) {
        match field.name() {
            "request_id" => self.request_id = Some(text),
            "msg" => self.msg = text,
            "data" => self.data = text,
            _ => {}
        }
    }
}

/// Quotes and control characters escaped as ModSecurity's error log writes them (`\x0d`).
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn keeps_waf_events_by_request_id() {
        let log = WafLog::default();
        let subscriber = tracing_subscriber::registry().with(log.clone());
        tracing::subscriber::with_default(subscriber, || {
            let id = "abc-1";
            tracing::info!(target: "rampart::waf", request_id = %id, rule = 942100u64, msg = %"SQL \"injection\"", data = %"found within ARGS:x", "waf rule matched");
            tracing::info!(target: "rampart::other", request_id = %id, rule = 1u64, "not ours");
        });
        let rules = log.take("abc-1");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].id, 942100);
        assert!(rules[0].log_line().contains(r#"[msg "SQL \"injection\""]"#));
        assert!(log.take("abc-1").is_empty());
    }
}
