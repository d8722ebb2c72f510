//! Unit tests of [`super`].

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use rampart_core::{Decision, Event, EventSink, Tag, Verdict};

use super::*;
use crate::latency::Group;
use crate::{Sample, Settings, Tracker};

/// A closed incident with a flood, a SQL injection, bans and staff traffic.
pub(crate) fn sample_incident() -> Incident {
    let t0 = 1_795_966_800_000u64;
    let t = Tracker::new(Settings { calm_after: Duration::from_secs(1), ..Settings::default() });
    let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(t0 + ms);
    t.emit(Event::ModeChange {
        at: at(0),
        from: "normal",
        to: "elevated",
        reason: "rate 40x baseline".into(),
        fingerprints: vec![],
    });
    let waf = [Decision { stage: "waf", verdict: Verdict::forbidden("waf rule 942100"), enforced: true }];
    let tags = [Tag { key: "waf.rule", value: "942100".into() }];
    for i in 0..500u64 {
        let client = IpAddr::from([203, 0, 113, (i % 200) as u8]);
        let s = Sample { client, group: Group::Public, served: false, latency_us: 900, decisions: &waf, tags: &tags };
        t.record(Timestamp(t0 + i * 10), &s);
        let v6: IpAddr = format!("2001:db8::{i:x}").parse().unwrap();
        let s =
            Sample { client: v6, group: Group::Priority, served: true, latency_us: 3000, decisions: &[], tags: &[] };
        t.record(Timestamp(t0 + i * 10), &s);
    }
    t.emit(Event::Ban {
        at: at(100),
        client: "203.0.113.7".parse().unwrap(),
        until: at(60_100),
        reason: "flood".into(),
    });
    t.emit(Event::ModeChange {
        at: at(6_000),
        from: "elevated",
        to: "normal",
        reason: "calm".into(),
        fingerprints: vec![],
    });
    t.tick_at(Timestamp(t0 + 8_000));
    t.recent().remove(0)
}

#[test]
fn every_reference_resolves_and_ids_are_unique() {
    let inc = sample_incident();
    let b = bundle(&inc);
    let objects = b["objects"].as_array().unwrap();
    let ids: HashSet<&str> = objects.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), objects.len(), "duplicate ids");
    for kind in [
        "identity",
        "incident",
        "attack-pattern",
        "observed-data",
        "indicator",
        "sighting",
        "course-of-action",
        "report",
        "marking-definition",
        "relationship",
        "ipv4-addr",
        "ipv6-addr",
    ] {
        assert!(objects.iter().any(|o| o["type"] == kind), "no {kind}");
    }
    let capec: Vec<&str> = objects
        .iter()
        .filter(|o| o["type"] == "attack-pattern")
        .map(|o| o["external_references"][0]["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(capec, ["CAPEC-125", "CAPEC-66"]);
    let text = serde_json::to_string(&b).unwrap();
    for id in text.split('"').filter(|s| s.contains("--") && !s.starts_with("extension-definition--")) {
        if let Some((_, uuid)) = id.split_once("--") {
            if uuid.len() == 36 && !id.starts_with("bundle--") {
                assert!(ids.contains(id), "dangling {id}");
            }
        }
    }
    assert_eq!(bundle(&inc), b, "deterministic");
    if let Ok(path) = std::env::var("RAMPART_STIX_SAMPLE") {
        std::fs::write(path, serde_json::to_vec_pretty(&b).unwrap()).unwrap();
    }
}
