//! A STIX 2.1 bundle of an incident: the reporting organisation (`identity`), the `incident`
//! with the Incident Core extension, one `attack-pattern` per vector with its CAPEC id, the
//! heaviest source networks as `ipv4-addr`/`ipv6-addr` observables behind an `observed-data`,
//! an `indicator` matching them and its `sighting`, one `course-of-action` per mitigation, the
//! relationships between them, a `report` holding it all, and the predefined TLP marking.
//!
//! Ids are deterministic (UUIDv5): rendering the same incident twice gives the same bundle,
//! and observables use the STIX namespace over their `value`, as the specification asks.

use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use crate::model::{Incident, Status, Tlp, VectorKind};
use crate::time::Timestamp;

/// The Incident Core extension (OASIS cti-stix-common-objects).
pub const INCIDENT_CORE: &str = "extension-definition--ef765651-680c-498d-9894-99799f2fa126";
/// The namespace of STIX cyber-observable ids (STIX 2.1 §2.9).
const STIX_SCO_NAMESPACE: [u8; 16] = uuid_bytes("00abedb4-aa42-466c-9c01-fed23315a9b7");
/// Rampart's namespace for the other objects' ids.
const RAMPART_NAMESPACE: [u8; 16] = uuid_bytes("6f1c2a4e-8d3b-4b7a-9e21-5c0d7f3a9b64");

const fn uuid_bytes(s: &str) -> [u8; 16] {
    let b = s.as_bytes();
    let mut out = [0u8; 16];
    let (mut i, mut j) = (0, 0);
    while i < b.len() {
        if b[i] != b'-' {
            let v = match b[i] {
                c @ b'0'..=b'9' => c - b'0',
                c @ b'a'..=b'f' => c - b'a' + 10,
                _ => 0,
            };
            out[j / 2] |= if j % 2 == 0 { v << 4 } else { v };
            j += 1;
        }
        i += 1;
    }
    out
}

/// A name-based (version 5, SHA-1) UUID.
fn uuid5(namespace: &[u8; 16], name: &str) -> String {
    let mut h = Sha1::new();
    h.update(namespace);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The predefined TLP 1.0 marking definition for `tlp` (TLP:CLEAR is TLP 1.0's WHITE).
pub fn tlp_marking(tlp: Tlp) -> Value {
    let (id, name) = match tlp {
        Tlp::Clear => ("613f2e26-407d-48c7-9eca-b8e91df99dc9", "white"),
        Tlp::Green => ("34098fce-860f-48ae-8e50-ebd3cc5e41da", "green"),
        Tlp::Amber => ("f88d31f6-486f-44da-b317-01333bde0b82", "amber"),
        Tlp::Red => ("5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "red"),
    };
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": format!("marking-definition--{id}"),
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": format!("TLP:{}", name.to_ascii_uppercase()),
        "definition": { "tlp": name },
    })
}

/// The incident's last moment on record.
pub fn last_moment(inc: &Incident) -> Timestamp {
    let series_end =
        inc.series.start.plus(std::time::Duration::from_secs(inc.series.step_secs * inc.series.points.len() as u64));
    let timeline = inc.timeline.iter().map(|e| e.at).max().unwrap_or(inc.opened_at);
    inc.closed_at.unwrap_or(timeline.max(series_end)).max(inc.opened_at)
}

/// The incident as a STIX 2.1 bundle.
pub fn bundle(inc: &Incident) -> Value {
    let id =
        |kind: &str, key: &str| format!("{kind}--{}", uuid5(&RAMPART_NAMESPACE, &format!("{}/{kind}/{key}", inc.id)));
    let created = inc.opened_at.to_string();
    let modified = last_moment(inc).to_string();
    let marking = tlp_marking(inc.reporter.tlp);
    let marking_id = marking["id"].clone();
    let org = &inc.reporter;
    let identity_id = id("identity", "organisation");
    let common = |kind: &str, key: &str| {
        json!({
            "type": kind,
            "spec_version": "2.1",
            "id": id(kind, key),
            "created": created,
            "modified": modified,
            "created_by_ref": identity_id,
            "object_marking_refs": [marking_id],
        })
    };
    let with = |mut base: Value, extra: Value| {
        if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
            b.extend(e);
        }
        base
    };
    let mut objects = vec![marking.clone()];
    let mut identity = with(
        common("identity", "organisation"),
        json!({
            "name": if org.organisation.is_empty() { "(organisation not configured)" } else { &org.organisation },
            "identity_class": "organization",
        }),
    );
    if !org.contact.is_empty() {
        identity["contact_information"] = json!(org.contact);
    }
    objects.push(identity);

    let mut attack_patterns = Vec::new();
    for v in &inc.vectors {
        let (capec, name) = v.kind.capec();
        let number = capec.trim_start_matches("CAPEC-");
        let ap = with(
            common("attack-pattern", capec),
            json!({
                "name": name,
                "description": format!("{}: {} event(s) from {} to {}; details: {}", v.kind.label(), v.count, v.first_seen, v.last_seen, v.details.join(", ")),
                "external_references": [{
                    "source_name": "capec",
                    "external_id": capec,
                    "url": format!("https://capec.mitre.org/data/definitions/{number}.html"),
                }],
            }),
        );
        attack_patterns.push(ap["id"].clone());
        objects.push(ap);
    }

    let observables: Vec<Value> = inc
        .scale
        .top_prefixes
        .iter()
        .map(|p| {
            let kind = if p.prefix.contains(':') { "ipv6-addr" } else { "ipv4-addr" };
            let canonical = serde_json::to_string(&json!({ "value": p.prefix })).unwrap_or_default();
            json!({
                "type": kind,
                "spec_version": "2.1",
                "id": format!("{kind}--{}", uuid5(&STIX_SCO_NAMESPACE, &canonical)),
                "value": p.prefix,
            })
        })
        .collect();
    let mut other_refs: Vec<Value> = Vec::new();
    if !observables.is_empty() {
        let observed = with(
            common("observed-data", "sources"),
            json!({
                "first_observed": created,
                "last_observed": modified,
                "number_observed": inc.scale.total_requests.clamp(1, 999_999_999),
                "object_refs": observables.iter().map(|o| o["id"].clone()).collect::<Vec<_>>(),
            }),
        );
        let pattern = inc
            .scale
            .top_prefixes
            .iter()
            .map(|p| {
                let kind = if p.prefix.contains(':') { "ipv6-addr" } else { "ipv4-addr" };
                format!("[{kind}:value ISSUBSET '{}']", p.prefix)
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        let indicator = with(
            common("indicator", "sources"),
            json!({
                "name": format!("Heaviest source networks of {}", inc.id),
                "description": "The networks that sent the most requests during the incident (space-saving top-K).",
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": created,
            }),
        );
        let sighting = with(
            common("sighting", "sources"),
            json!({
                "first_seen": created,
                "last_seen": modified,
                "count": inc.scale.total_requests.clamp(1, 999_999_999),
                "sighting_of_ref": indicator["id"],
                "observed_data_refs": [observed["id"]],
                "where_sighted_refs": [identity_id],
            }),
        );
        for ap in &attack_patterns {
            objects.push(relationship(&common, &with, "indicates", &indicator["id"], ap));
        }
        other_refs.extend([observed["id"].clone(), indicator["id"].clone(), sighting["id"].clone()]);
        objects.extend(observables.iter().cloned());
        objects.extend([observed, indicator, sighting]);
    }

    for m in &inc.mitigations {
        let key = format!("{}/{}/{}", m.stage, m.action, m.detect_only);
        let detect = if m.detect_only { " (detect only: recorded, not enforced)" } else { "" };
        let coa = with(
            common("course-of-action", &key),
            json!({
                "name": format!("{} {} by Rampart", m.stage, m.action),
                "description": format!("Rampart's {} stage answered {} request(s) or connection(s) with {}{detect}.", m.stage, m.count, m.action),
            }),
        );
        for ap in &attack_patterns {
            objects.push(relationship(&common, &with, "mitigates", &coa["id"], ap));
        }
        other_refs.push(coa["id"].clone());
        objects.push(coa);
    }
    for ap in &attack_patterns {
        objects.push(relationship(&common, &with, "targets", ap, &json!(identity_id)));
    }

    let open = inc.status == Status::Open;
    let refused = inc.scale.refused_requests + inc.scale.refused_connections;
    let incident_types: Vec<&str> = inc
        .vectors
        .iter()
        .map(|v| match v.kind {
            VectorKind::Flood => "denial-of-service",
            VectorKind::CredentialStuffing | VectorKind::PasswordSpraying => "unauthorized-access",
            VectorKind::Enumeration | VectorKind::Exfiltration => "data-exfiltration",
            _ => "exploitation",
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    other_refs.extend(attack_patterns.iter().cloned());
    let incident = with(
        common("incident", "incident"),
        json!({
            "name": format!("{}: {}", inc.id, crate::html::headline(inc)),
            "description": crate::html::summary(inc),
            "extensions": {
                INCIDENT_CORE: {
                    "extension_type": "property-extension",
                    "investigation_status": if open { "open" } else { "closed" },
                    "determination": if inc.vectors.is_empty() { "suspected" } else { "confirmed" },
                    "blocked": refused > 0,
                    "malicious": !inc.vectors.is_empty(),
                    "criticality": criticality(inc),
                    "incident_types": incident_types,
                    "other_object_refs": other_refs,
                }
            },
        }),
    );
    objects.push(incident);
    let object_refs: Vec<Value> =
        objects.iter().filter(|o| o["type"] != "marking-definition").map(|o| o["id"].clone()).collect();
    let report = with(
        common("report", "report"),
        json!({
            "name": format!("Incident report {}", inc.id),
            "description": crate::html::summary(inc),
            "report_types": ["threat-report"],
            "published": modified,
            "object_refs": object_refs,
        }),
    );
    objects.push(report);
    json!({
        "type": "bundle",
        "id": format!("bundle--{}", uuid5(&RAMPART_NAMESPACE, &format!("{}/bundle/{}", inc.id, modified))),
        "objects": objects,
    })
}

fn relationship(
    common: &dyn Fn(&str, &str) -> Value,
    with: &dyn Fn(Value, Value) -> Value,
    kind: &str,
    source: &Value,
    target: &Value,
) -> Value {
    let key = format!("{kind}/{}/{}", source.as_str().unwrap_or(""), target.as_str().unwrap_or(""));
    with(common("relationship", &key), json!({ "relationship_type": kind, "source_ref": source, "target_ref": target }))
}

/// 0-100: how bad for the organisation — the legitimate users' success during the incident
/// weighs most, then the size of the attack.
pub fn criticality(inc: &Incident) -> u64 {
    let d = &inc.impact.during;
    let legit = [&d.priority, &d.clearance].iter().filter_map(|g| g.success_rate).fold(1.0f64, f64::min);
    let size = match inc.scale.peak_rps {
        0..=99 => 10.0,
        100..=999 => 25.0,
        1000..=9999 => 40.0,
        _ => 50.0,
    };
    ((1.0 - legit) * 50.0 + size).round().clamp(0.0, 100.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid5_matches_the_rfc_construction() {
        // uuid.uuid5(uuid.NAMESPACE_DNS, "www.example.com") in Python.
        let dns = uuid_bytes("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
        assert_eq!(uuid5(&dns, "www.example.com"), "2ed6657d-e927-568b-95e1-2665a8aea6a2");
    }
}

#[cfg(test)]
mod bundle_tests;
