//! The assessment's rules, fed records directly (the integration tests run it on real logs).

use super::*;
use crate::record::Record;
use serde_json::json;

const MIN: u64 = 60_000;

fn feed(acc: &mut Accumulator, seq: u64, kind: &str, at: u64, body: Value) {
    let r = Record { kind: kind.into(), at_ms: at, body: body.as_object().unwrap().clone() };
    acc.read(seq, &r.to_bytes(seq));
}

fn access(status: u64, bytes: u64, sensitive: bool, class: &str, waf: bool) -> Value {
    let flagged = if waf { json!([{"stage": "waf", "reason": "waf rule 949110"}]) } else { json!([]) };
    json!({
        "request_id": "r", "client": "192.0.2.1", "class": class, "subject": null, "cleared": false,
        "unverified": class == "public", "method": "GET", "route": "contacts", "path": "/contacts",
        "sensitive": sensitive, "status": status, "upstream_status": status, "bytes": bytes, "records": 3,
        "complete": true, "flagged": flagged, "rules": if waf { json!(["942100"]) } else { json!([]) },
    })
}

fn egress(route: &str, from: u64, bytes: u64) -> Value {
    json!({"route": route, "from": from, "to": from + MIN, "requests": 1, "bytes": bytes, "records": 0, "unverified": 0, "by_class": {}})
}

#[test]
fn an_answered_attack_is_data_left_and_a_blocked_one_is_nothing() {
    let mut acc = Accumulator::new(Settings::new(1000, 2000));
    feed(&mut acc, 0, "access", 1500, access(200, 512, false, "public", true));
    feed(&mut acc, 1, "access", 1500, access(403, 100, false, "public", true));
    feed(&mut acc, 2, "access", 1500, access(204, 0, false, "public", true));
    // Outside the window.
    feed(&mut acc, 3, "access", 2500, access(200, 512, false, "public", true));
    let a = acc.finish(4, 4, 0);
    assert_eq!(a.verdict, Verdict::DataLeft);
    let got: Vec<(u64, Severity, &str)> = a.findings.iter().map(|f| (f.record, f.severity, f.kind)).collect();
    assert_eq!(got, vec![(0, Severity::DataLeft, "attack_answered"), (2, Severity::Review, "attack_answered")]);
    assert!(a.findings[0].summary.contains("942100"), "{}", a.findings[0].summary);
    assert!(a.findings.iter().all(|f| f.signed));
}

#[test]
fn sensitive_access_by_the_unverified_needs_review_and_staff_does_not() {
    let mut acc = Accumulator::new(Settings::new(0, 10_000));
    feed(&mut acc, 0, "access", 10, access(200, 900, true, "staff", false));
    let a = acc.finish(1, 1, 0);
    assert_eq!((a.verdict, a.egress[0].requests, a.egress[0].bytes), (Verdict::NoEvidence, 1, 900));
    let mut acc = Accumulator::new(Settings::new(0, 10_000));
    feed(&mut acc, 0, "access", 10, access(200, 900, true, "public", false));
    feed(&mut acc, 1, "access", 10, access(429, 90, true, "public", false));
    let a = acc.finish(2, 1, 0);
    assert_eq!(a.verdict, Verdict::ReviewNeeded);
    assert_eq!((a.findings.len(), a.findings[0].kind, a.egress[0].unverified), (1, "unverified_sensitive_access", 2));
    assert!(a.notes.iter().any(|n| n.contains("not covered by a signed checkpoint")), "{:?}", a.notes);
}

#[test]
fn egress_is_judged_against_the_routes_own_baseline() {
    let from = 100 * MIN;
    let mut acc = Accumulator::new(Settings::new(from, from + 10 * MIN));
    let mut seq = 0;
    for i in 0..20 {
        feed(&mut acc, seq, "egress", (80 + i + 1) * MIN, egress("contacts", (80 + i) * MIN, 100_000 + 1000 * (i % 3)));
        seq += 1;
    }
    // Normal, then ten times the usual.
    feed(&mut acc, seq, "egress", from + MIN, egress("contacts", from, 101_000));
    feed(&mut acc, seq + 1, "egress", from + 2 * MIN, egress("contacts", from + MIN, 1_000_000));
    // A route without a baseline is noted, not judged.
    feed(&mut acc, seq + 2, "egress", from + MIN, egress("export", from, 9_000_000));
    // An interval cut short by a shutdown (one second, the usual bytes of a second) is no burst.
    let mut short = egress("contacts", from + 2 * MIN, 50_000);
    short["to"] = json!(from + 2 * MIN + 1000);
    feed(&mut acc, seq + 3, "egress", from + 2 * MIN + 1000, short);
    let a = acc.finish(seq + 4, seq + 4, 0);
    assert_eq!(a.verdict, Verdict::ReviewNeeded);
    assert_eq!(
        a.findings.iter().map(|f| (f.record, f.kind)).collect::<Vec<_>>(),
        vec![(seq + 1, "egress_above_baseline")]
    );
    let c = a.egress.iter().find(|e| e.route == "contacts").unwrap();
    assert_eq!((c.baseline_intervals, c.intervals), (20, 3));
    assert!(a.notes.iter().any(|n| n.contains("route export")), "{:?}", a.notes);
}

#[test]
fn alerts_and_dropped_records_count_and_enforced_detections_do_not() {
    let mut acc = Accumulator::new(Settings::new(0, 10_000));
    let det = |pattern: &str, response: &str| json!({"stage": "exfiltration", "pattern": pattern, "client": "192.0.2.1", "identity": "client:192.0.2.1", "route": "/contacts", "volume": "x", "response": response});
    feed(&mut acc, 0, "detection", 1, det("budget_records", "block"));
    let a = acc.finish(1, 1, 0);
    assert_eq!(a.verdict, Verdict::NoEvidence);
    let mut acc = Accumulator::new(Settings::new(0, 10_000));
    feed(&mut acc, 0, "detection", 1, det("budget_records", "alert"));
    feed(&mut acc, 1, "audit.dropped", 2, json!({"dropped": 7}));
    feed(&mut acc, 2, "detection", 3, det("never_leave", "alert"));
    let a = acc.finish(3, 3, 0);
    assert_eq!(a.verdict, Verdict::DataLeft);
    let kinds: Vec<&str> = a.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec!["exfiltration_not_stopped", "exfiltration_not_stopped", "evidence_incomplete"]);
    assert_eq!(a.window_records.get("detection"), Some(&2));
}
