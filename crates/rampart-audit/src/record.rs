//! Canonical records: what one leaf of the tree says.
//!
//! A record is a JSON object `{"at":…,"body":{…},"kind":"…","seq":…}` written canonically —
//! keys sorted at every level, no whitespace — so that the same record always has the same
//! bytes and therefore the same leaf hash, whichever serde_json features the build unifies.
//! `seq` is the record's leaf index, which is also its ID: putting it inside the hashed bytes
//! lets the verifier name a removed or reordered record by position, not only by a root that
//! no longer matches.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;
use crate::segment::MAX_RECORD;

/// One security event as the log keeps it, before it has a sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// What happened: `decision`, `connection_refused`, `ban`, `config_reload`,
    /// `audit.dropped`, and later `mode_change`, `admin`, `sensitive_access`.
    pub kind: String,
    /// When it happened, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The facts, as a JSON object.
    pub body: Map<String, Value>,
}

impl Record {
    /// A record of `kind` that happened now.
    pub fn now(kind: impl Into<String>, body: Map<String, Value>) -> Record {
        Record { kind: kind.into(), at_ms: unix_ms(SystemTime::now()), body }
    }

    /// The canonical bytes of this record as leaf `seq`.
    pub fn to_bytes(&self, seq: u64) -> Vec<u8> {
        let mut out = self.prefix();
        out.extend_from_slice(&seq_suffix(seq));
        out
    }

    /// Everything but the sequence number: `{"at":…,"body":…,"kind":…,"seq":`. `seq` sorts last,
    /// so the part that depends on the position in the log is a short suffix.
    fn prefix(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(b"{\"at\":");
        out.extend_from_slice(self.at_ms.to_string().as_bytes());
        out.extend_from_slice(b",\"body\":");
        write_object(&self.body, &mut out);
        out.extend_from_slice(b",\"kind\":");
        write_string(&self.kind, &mut out);
        out.extend_from_slice(b",\"seq\":");
        out
    }

    /// Serialise and start hashing on the caller's thread, so that the writer thread only adds
    /// the sequence number. `None` when the record is too large to store.
    pub(crate) fn prepare(&self) -> Option<Prepared> {
        let prefix = self.prefix();
        if prefix.len() + 21 > MAX_RECORD {
            return None;
        }
        let mut leaf = Sha256::new();
        leaf.update([0u8]);
        leaf.update(&prefix);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&prefix);
        Some(Prepared { prefix, leaf, crc })
    }
}

fn seq_suffix(seq: u64) -> Vec<u8> {
    format!("{seq}}}").into_bytes()
}

/// A record serialised and half-hashed, waiting for its sequence number.
pub(crate) struct Prepared {
    prefix: Vec<u8>,
    /// SHA-256 over `0x00 || prefix`.
    leaf: Sha256,
    /// CRC-32 over `prefix`.
    crc: crc32fast::Hasher,
}

impl Prepared {
    /// Append the frame of this record as leaf `seq` to `out`; return its leaf hash.
    pub(crate) fn finish(&self, seq: u64, out: &mut Vec<u8>) -> Hash {
        let suffix = seq_suffix(seq);
        let mut crc = self.crc.clone();
        crc.update(&suffix);
        let mut leaf = self.leaf.clone();
        leaf.update(&suffix);
        out.extend_from_slice(&((self.prefix.len() + suffix.len()) as u32).to_le_bytes());
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&suffix);
        leaf.finalize().into()
    }
}

/// A stored record read back: its sequence number and the parts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StoredRecord {
    pub seq: u64,
    pub kind: String,
    pub at: u64,
    pub body: Map<String, Value>,
}

/// The sequence number written inside a record's bytes, without building its body.
pub(crate) fn seq_of(bytes: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Seq {
        seq: u64,
    }
    serde_json::from_slice::<Seq>(bytes).ok().map(|s| s.seq)
}

/// `sha256:HEX` of `bytes`: how records name a configuration or a file without holding it.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Milliseconds since the Unix epoch (0 for times before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Canonical JSON text of any value: sorted keys, no whitespace.
pub fn canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    // Sorted here rather than trusting the map's order: `preserve_order` may be unified in.
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(k, out);
        out.push(b':');
        write_value(v, out);
    }
    out.push(b'}');
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // serde_json's string escaping cannot fail for a &str.
    serde_json::to_writer(&mut *out, s).expect("writing a string to a Vec");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_keys_and_has_no_whitespace() {
        let body = json!({"z": 1, "a": {"y": [true, null, "q\""], "b": -2}}).as_object().unwrap().clone();
        let r = Record { kind: "ban".into(), at_ms: 1700000000123, body };
        let bytes = r.to_bytes(7);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"at":1700000000123,"body":{"a":{"b":-2,"y":[true,null,"q\""]},"z":1},"kind":"ban","seq":7}"#
        );
        assert_eq!(seq_of(&bytes), Some(7));
        let back: StoredRecord = serde_json::from_slice(&bytes).unwrap();
        assert_eq!((back.seq, back.kind.as_str(), back.at), (7, "ban", 1700000000123));
        // Canonical output is a fixed point: parsing and re-serialising gives the same bytes.
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(canonical(&v), bytes);
        // The writer's half-hashed path gives the same frame and leaf as hashing it whole.
        let mut framed = Vec::new();
        let leaf = r.prepare().unwrap().finish(7, &mut framed);
        let mut expected = Vec::new();
        crate::segment::frame_into(&bytes, &mut expected);
        assert_eq!((framed, leaf), (expected, crate::merkle::leaf_hash(&bytes)));
    }
}
