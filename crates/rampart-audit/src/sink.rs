//! [`AuditSink`]: the shield's events as audit records, through the non-blocking
//! [`AuditLog::submit`] (a sink is called on the request path and must never wait for a disk).
//!
//! Sensitive-route accesses are also added to an [`EgressTally`], closed every egress
//! interval by a timer thread into one `egress` record per route (and once more when the sink
//! is dropped, for the last partial interval).

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use rampart_core::{Access, Event, EventSink, Verdict};
use serde_json::{Map, Value};

use crate::egress::{EgressTally, Volume};
use crate::log::AuditLog;
use crate::record::{unix_ms, Record};

/// Writes every event to an audit log.
pub struct AuditSink {
    log: Arc<AuditLog>,
    egress: Arc<Egress>,
}

/// The tally and the log its records go to, shared with the timer thread.
struct Egress {
    tally: Mutex<EgressTally>,
    log: Arc<AuditLog>,
}

impl Egress {
    fn close(&self, now: SystemTime) {
        let records = self.tally.lock().unwrap_or_else(|e| e.into_inner()).close(now);
        for r in records {
            self.log.submit(r);
        }
    }
}

impl AuditSink {
    /// A sink whose egress summaries are written only when it is dropped (tools and tests).
    pub fn new(log: Arc<AuditLog>) -> AuditSink {
        let egress = Arc::new(Egress { tally: Mutex::new(EgressTally::new(SystemTime::now())), log: Arc::clone(&log) });
        AuditSink { log, egress }
    }

    /// A sink that closes the egress interval every `interval` on a thread of its own (which
    /// ends with the sink).
    pub fn with_egress_interval(log: Arc<AuditLog>, interval: Duration) -> AuditSink {
        let sink = AuditSink::new(log);
        let weak: Weak<Egress> = Arc::downgrade(&sink.egress);
        let interval = interval.max(Duration::from_secs(1));
        let spawned = std::thread::Builder::new().name("rampart-egress".into()).spawn(move || loop {
            std::thread::sleep(interval);
            match weak.upgrade() {
                Some(egress) => egress.close(SystemTime::now()),
                None => return,
            }
        });
        if let Err(e) = spawned {
            tracing::error!(target: "rampart::audit", error = %e, "no egress timer: summaries are written only at shutdown");
        }
        sink
    }

    /// The log this sink writes to.
    pub fn log(&self) -> &Arc<AuditLog> {
        &self.log
    }
}

impl EventSink for AuditSink {
    fn emit(&self, event: Event) {
        if let Event::Access(a) = &event {
            if a.sensitive {
                let v = Volume {
                    requests: 1,
                    bytes: a.bytes,
                    records: a.records.unwrap_or(0),
                    unverified: u64::from(unverified(a)),
                };
                self.egress.tally.lock().unwrap_or_else(|e| e.into_inner()).observe(&a.route, &a.identity.class, v);
            }
        }
        self.log.submit(record_of(&event));
    }
}

impl Drop for AuditSink {
    fn drop(&mut self) {
        self.egress.close(SystemTime::now());
    }
}

/// The public class without a verified subject: nobody the shield can name.
pub fn unverified(a: &Access) -> bool {
    a.identity.is_public() && a.identity.subject.is_none()
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
        Event::ConfigReload { at, ok, detail, digest } => {
            put("ok", Value::from(*ok));
            put("detail", Value::from(detail.as_str()));
            if let Some(d) = digest {
                put("digest", Value::from(d.as_str()));
            }
            ("config_reload", at)
        }
        Event::Access(a) => {
            put("request_id", Value::from(a.request.to_string()));
            put("client", Value::from(a.client.to_string()));
            put("class", Value::from(&*a.identity.class));
            put("subject", a.identity.subject.as_deref().map_or(Value::Null, Value::from));
            put("cleared", Value::from(a.identity.clearance.is_some()));
            put("unverified", Value::from(unverified(a)));
            put("method", Value::from(a.method.as_str()));
            put("route", Value::from(&*a.route));
            put("path", Value::from(a.path.as_str()));
            put("sensitive", Value::from(a.sensitive));
            put("status", Value::from(a.status));
            put("upstream_status", a.upstream_status.map_or(Value::Null, Value::from));
            put("bytes", Value::from(a.bytes));
            put("records", a.records.map_or(Value::Null, Value::from));
            put("complete", Value::from(a.complete));
            let flagged = a.flagged.iter().map(|(stage, reason)| serde_json::json!({"stage": stage, "reason": reason}));
            put("flagged", Value::Array(flagged.collect()));
            put("rules", Value::from(a.rules.clone()));
            ("access", &a.at)
        }
        Event::Admin { at, actor, action, ok, detail } => {
            put("actor", Value::from(actor.as_str()));
            put("action", Value::from(*action));
            put("ok", Value::from(*ok));
            put("detail", Value::from(detail.as_str()));
            ("admin", at)
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
