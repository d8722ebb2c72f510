//! [`AuditSink`]: the shield's events as audit records, through the non-blocking
//! [`AuditLog::submit`] (a sink is called on the request path and must never wait for a disk).

use std::sync::Arc;

use rampart_core::{Event, EventSink, Verdict};
use serde_json::{Map, Value};

use crate::log::AuditLog;
use crate::record::{unix_ms, Record};

/// Writes every event to an audit log.
pub struct AuditSink {
    log: Arc<AuditLog>,
}

impl AuditSink {
    pub fn new(log: Arc<AuditLog>) -> AuditSink {
        AuditSink { log }
    }

    /// The log this sink writes to.
    pub fn log(&self) -> &Arc<AuditLog> {
        &self.log
    }
}

impl EventSink for AuditSink {
    fn emit(&self, event: Event) {
        self.log.submit(record_of(&event));
    }
}

/// The audit record of an event.
pub fn record_of(event: &Event) -> Record {
    let mut body = Map::new();
    let mut put = |k: &str, v: Value| {
        body.insert(k.to_string(), v);
    };
    let (kind, at) = match event {
        Event::Decision { at, request, client, decision } => {
            put("request_id", Value::from(request.to_string()));
            put("client", Value::from(client.to_string()));
            put("stage", Value::from(decision.stage));
            put("verdict", Value::from(decision.verdict.kind()));
            put("enforced", Value::from(decision.enforced));
            put("reason", Value::from(decision.verdict.reason()));
            match &decision.verdict {
                Verdict::Block { status, .. } => put("status", Value::from(*status)),
                Verdict::Throttle { retry_after, .. } => put("retry_after_ms", Value::from(retry_after.as_millis() as u64)),
                _ => {}
            }
            ("decision", at)
        }
        Event::ConnectionRefused { at, client, reason } => {
            put("client", Value::from(client.to_string()));
            put("reason", Value::from(*reason));
            ("connection_refused", at)
        }
        Event::Ban { at, client, until, reason } => {
            put("client", Value::from(client.to_string()));
            put("until", Value::from(unix_ms(*until)));
            put("reason", Value::from(reason.as_str()));
            ("ban", at)
        }
        Event::ModeChange { at, from, to, reason, fingerprints } => {
            put("from", Value::from(*from));
            put("to", Value::from(*to));
            put("reason", Value::from(reason.as_str()));
            put("fingerprints", Value::from(fingerprints.clone()));
            ("mode_change", at)
        }
        Event::Detection { at, stage, pattern, client, identity, route, volume, response } => {
            put("stage", Value::from(*stage));
            put("pattern", Value::from(*pattern));
            put("client", Value::from(client.to_string()));
            put("identity", Value::from(identity.as_str()));
            put("route", Value::from(route.as_str()));
            put("volume", Value::from(volume.as_str()));
            put("response", Value::from(*response));
            ("detection", at)
        }
        Event::ConfigReload { at, ok, detail } => {
            put("ok", Value::from(*ok));
            put("detail", Value::from(detail.as_str()));
            ("config_reload", at)
        }
        // Kinds added to `Event` after this sink was written are kept whole rather than lost.
        #[allow(unreachable_patterns)]
        other => {
            put("event", Value::from(format!("{other:?}")));
            return Record::now("event", body);
        }
    };
    Record { kind: kind.into(), at_ms: unix_ms(*at), body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::{Decision, RequestId};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_decision_becomes_a_canonical_record() {
        let event = Event::Decision {
            at: UNIX_EPOCH + Duration::from_millis(1500),
            request: RequestId("r1".into()),
            client: "192.0.2.7".parse().unwrap(),
            decision: Decision { stage: "waf", verdict: Verdict::forbidden("sqli"), enforced: true },
        };
        let bytes = record_of(&event).to_bytes(3);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"at":1500,"body":{"client":"192.0.2.7","enforced":true,"reason":"sqli","request_id":"r1","stage":"waf","status":403,"verdict":"block"},"kind":"decision","seq":3}"#
        );
    }
}
