//! The audit trail through the real binary: `rampart audit keygen / verify / prove /
//! check-proof`, tampering of every kind refused, SIGKILL during heavy appends losing nothing
//! that was acknowledged, and `rampart run` writing its decisions to the log.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{client, config_for, temp_dir, Backend, Rampart};
use rand::Rng;

fn rampart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).output().expect("run rampart")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A key pair and a log directory beside it.
struct Audit {
    _tmp: tempfile::TempDir,
    key: PathBuf,
    vkey: String,
    dir: PathBuf,
}

impl Audit {
    fn new() -> Audit {
        let tmp = temp_dir();
        let key = tmp.path().join("audit.key");
        let out = rampart(&["audit", "keygen", "--out", key.to_str().unwrap(), "--name", "test.rampart/audit"]);
        assert!(out.status.success(), "{}", text(&out));
        let vkey = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(vkey.starts_with("test.rampart/audit+"), "{vkey}");
        let dir = tmp.path().join("log");
        Audit { key, vkey, dir, _tmp: tmp }
    }

    /// `threads * count` records through the stress appender, closed cleanly (final checkpoint).
    fn append(&self, threads: u32, count: u32) {
        let out = rampart(&[
            "audit", "stress", "--dir", self.dir.to_str().unwrap(), "--key", self.key.to_str().unwrap(),
            "--threads", &threads.to_string(), "--count", &count.to_string(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
    }

    fn verify(&self) -> Output {
        rampart(&["audit", "verify", self.dir.to_str().unwrap(), "--key", &self.vkey])
    }

    fn segment(&self) -> PathBuf {
        self.dir.join("segment-000000000000.log")
    }
}

/// The frames of a segment, as byte ranges.
fn frames(data: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= data.len() {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        out.push(at..at + 8 + len);
        at += 8 + len;
    }
    out
}

fn assert_fails(a: &Audit, what: &str, expect: &str) {
    let out = a.verify();
    assert_eq!(out.status.code(), Some(1), "{what}: verify did not fail: {}", text(&out));
    assert!(text(&out).contains(expect), "{what}: expected {expect:?} in: {}", text(&out));
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_reads() {
    use std::os::unix::fs::PermissionsExt;
    let a = Audit::new();
    let mode = std::fs::metadata(&a.key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(std::fs::read_to_string(&a.key).unwrap().starts_with("PRIVATE+KEY+test.rampart/audit+"));
    assert_eq!(std::fs::read_to_string(format!("{}.pub", a.key.display())).unwrap().trim(), a.vkey);
    // Never overwritten.
    assert!(!rampart(&["audit", "keygen", "--out", a.key.to_str().unwrap()]).status.success());
}

#[test]
fn an_untouched_log_verifies_and_any_single_byte_flip_fails() {
    let a = Audit::new();
    a.append(2, 2);
    let out = a.verify();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).starts_with("ok: 4 records in 1 segments"), "{}", text(&out));

    // Every byte of the segment and of every checkpoint, each flipped in turn.
    let mut files = vec![a.segment()];
    for e in std::fs::read_dir(a.dir.join("checkpoints")).unwrap() {
        files.push(e.unwrap().path());
    }
    for file in files {
        let original = std::fs::read(&file).unwrap();
        for at in 0..original.len() {
            let mut bad = original.clone();
            bad[at] ^= 0x01;
            std::fs::write(&file, &bad).unwrap();
            let out = a.verify();
            assert_eq!(out.status.code(), Some(1), "flipping byte {at} of {} went unnoticed: {}", file.display(), text(&out));
        }
        std::fs::write(&file, &original).unwrap();
    }
    assert!(a.verify().status.success());
}

#[test]
fn removed_swapped_truncated_and_rewritten_records_fail() {
    let a = Audit::new();
    a.append(1, 4);
    let seg = a.segment();
    let original = std::fs::read(&seg).unwrap();
    let f = frames(&original);
    assert_eq!(f.len(), 4);
    let restore = || std::fs::write(&seg, &original).unwrap();

    // A record removed, frame and all: the next one is out of place, and is named.
    for k in 0..3 {
        let data = [&original[..f[k].start], &original[f[k].end..]].concat();
        std::fs::write(&seg, data).unwrap();
        assert_fails(&a, &format!("record {k} removed"), &format!("record {k} ({}, offset {})", seg.display(), f[k].start));
    }
    // The last record removed at a frame boundary: only the checkpoint can tell.
    std::fs::write(&seg, &original[..f[3].start]).unwrap();
    assert_fails(&a, "last record removed", "records 3..4 were removed");
    // Cut in the middle of the last frame.
    std::fs::write(&seg, &original[..f[3].end - 5]).unwrap();
    assert_fails(&a, "tail truncated mid-frame", "records 3..4 were removed");
    // Two records swapped.
    let data = [&original[..f[1].start], &original[f[2].clone()], &original[f[1].clone()], &original[f[3].start..]].concat();
    std::fs::write(&seg, data).unwrap();
    assert_fails(&a, "records 1 and 2 swapped", "record 1");
    // A record rewritten with a valid checksum and its own sequence number: the tree says so.
    let payload = String::from_utf8(original[f[2].start + 8..f[2].end].to_vec()).unwrap();
    let forged = payload.replace("192.0.2.1", "192.0.2.9");
    let mut frame = (forged.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&crc32(forged.as_bytes()).to_le_bytes());
    frame.extend_from_slice(forged.as_bytes());
    std::fs::write(&seg, [&original[..f[2].start], &frame[..], &original[f[2].end..]].concat()).unwrap();
    assert_fails(&a, "record 2 rewritten", "do not match checkpoint");
    restore();
    assert!(a.verify().status.success());

    // Without its checkpoints the log vouches for nothing; a checkpoint kept elsewhere still binds it.
    let held = a.dir.parent().unwrap().join("held-checkpoint");
    let cps: Vec<PathBuf> = std::fs::read_dir(a.dir.join("checkpoints")).unwrap().map(|e| e.unwrap().path()).collect();
    std::fs::copy(cps.iter().max().unwrap(), &held).unwrap();
    for cp in &cps {
        std::fs::remove_file(cp).unwrap();
    }
    assert_fails(&a, "checkpoints removed", "no signed checkpoint");
    std::fs::write(&seg, &original[..f[3].start]).unwrap();
    let out = rampart(&["audit", "verify", a.dir.to_str().unwrap(), "--key", &a.vkey, "--checkpoint", held.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("records 3..4 were removed"), "{}", text(&out));

    // A key that did not sign the checkpoints.
    restore();
    std::fs::copy(&held, cps.iter().max().unwrap()).unwrap();
    assert!(a.verify().status.success());
    let other = Audit::new();
    let out = rampart(&["audit", "verify", a.dir.to_str().unwrap(), "--key", &other.vkey]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

/// CRC-32 (IEEE), written out here so that the test forges frames without the crate's help.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn an_inclusion_proof_checks_offline_and_a_forged_one_does_not() {
    let a = Audit::new();
    a.append(1, 5);
    let out = rampart(&["audit", "prove", "3", "--dir", a.dir.to_str().unwrap(), "--key", &a.vkey]);
    assert!(out.status.success(), "{}", text(&out));
    let proof_file = a.dir.parent().unwrap().join("proof.json");
    std::fs::write(&proof_file, &out.stdout).unwrap();
    let proof: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((proof["leaf_index"].as_u64(), proof["tree_size"].as_u64()), (Some(3), Some(5)));
    assert_eq!(proof["audit_path"].as_array().unwrap().len(), 3);

    let check = |file: &Path, key: &str| rampart(&["audit", "check-proof", file.to_str().unwrap(), "--key", key]);
    let out = check(&proof_file, &a.vkey);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("record 3 is in the tree of size 5"));

    let forged_file = a.dir.parent().unwrap().join("forged.json");
    let mut forged = proof.clone();
    forged["record"] = serde_json::Value::from(proof["record"].as_str().unwrap().replace("\"n\":3", "\"n\":4"));
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    assert_eq!(check(&forged_file, &a.vkey).status.code(), Some(1));
    let mut forged = proof.clone();
    forged["leaf_index"] = serde_json::Value::from(2);
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    assert_eq!(check(&forged_file, &a.vkey).status.code(), Some(1));
    let other = Audit::new();
    assert_eq!(check(&proof_file, &other.vkey).status.code(), Some(1));
    // A record not yet in the log.
    assert!(!rampart(&["audit", "prove", "5", "--dir", a.dir.to_str().unwrap()]).status.success());
}

#[test]
fn sigkill_during_heavy_appends_loses_no_acknowledged_record() {
    let a = Audit::new();
    let mut rng = rand::thread_rng();
    let mut acknowledged: Vec<(u64, u64, u64)> = Vec::new();
    for run in 0..20 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(["audit", "stress", "--ids", "--threads", "8", "--checkpoint-ms", "50", "--segment-bytes", "65536"])
            .args(["--dir", a.dir.to_str().unwrap(), "--key", a.key.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| {
                    let v: Vec<u64> = l.split(' ').filter_map(|x| x.parse().ok()).collect();
                    (v.len() == 3).then(|| (v[0], v[1], v[2]))
                })
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(30..400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        acknowledged.extend(acked.iter().copied());

        // Restart: open (which cuts off a torn tail) and close cleanly, then verify.
        let log = rampart_audit::AuditLog::open(rampart_audit::Options::new(&a.dir, &a.key)).unwrap();
        log.close().unwrap();
        drop(log);
        let out = a.verify();
        assert!(out.status.success(), "run {run}: {}", text(&out));

        let mut records = Vec::new();
        rampart_audit::segment::scan(&a.dir, &mut |frame| {
            records.push(serde_json::from_slice::<rampart_audit::StoredRecord>(frame.payload).unwrap());
            Ok(())
        })
        .unwrap();
        for &(id, thread, n) in &acknowledged {
            let r = records.get(id as usize).unwrap_or_else(|| panic!("run {run}: acknowledged record {id} is gone ({} in the log)", records.len()));
            assert_eq!((r.body["thread"].as_u64(), r.body["n"].as_u64()), (Some(thread), Some(n)), "run {run}: record {id}");
        }
    }
    assert!(acknowledged.len() > 100, "only {} records acknowledged in 20 runs", acknowledged.len());
}

#[test]
fn rampart_run_writes_its_decisions_to_the_audit_log() {
    let a = Audit::new();
    let app = Backend::start("app");
    let extra = format!(
        "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\nclient_address = \"x-forwarded-for\"\n\n[access]\ndeny = [\"203.0.113.7\"]\n\n\
         [audit]\ndir = \"{}\"\nsigning_key = \"{}\"\ncheckpoint_interval = \"100ms\"\n",
        a.dir.display(),
        a.key.display()
    );
    let r = Rampart::start(&config_for(&app, &extra));
    let status = client().get(r.url("/")).header("x-forwarded-for", "203.0.113.7").send().unwrap().status();
    assert_eq!(status.as_u16(), 403);
    common::eventually(Duration::from_secs(10), "a checkpointed decision record", || {
        let out = a.verify();
        let mut found = None;
        if out.status.success() {
            rampart_audit::segment::scan(&a.dir, &mut |frame| {
                let rec: rampart_audit::StoredRecord = serde_json::from_slice(frame.payload).unwrap();
                if rec.kind == "decision" && rec.body["client"] == "203.0.113.7" {
                    found = Some(rec);
                }
                Ok(())
            })
            .unwrap();
        }
        found
    });
    drop(r);
    assert!(a.verify().status.success());
}

#[test]
fn a_consistency_proof_shows_the_log_only_grew_since_a_held_checkpoint() {
    let a = Audit::new();
    a.append(1, 3);
    let held = a.dir.parent().unwrap().join("held");
    std::fs::copy(a.dir.join("checkpoints/000000000003"), &held).unwrap();
    a.append(2, 3);
    let out = rampart(&["audit", "prove-consistency", "--from", held.to_str().unwrap(), "--dir", a.dir.to_str().unwrap(), "--key", &a.vkey]);
    assert!(out.status.success(), "{}", text(&out));
    let file = a.dir.parent().unwrap().join("consistency.json");
    std::fs::write(&file, &out.stdout).unwrap();
    let out = rampart(&["audit", "check-proof", file.to_str().unwrap(), "--key", &a.vkey]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("the tree of size 9 extends the tree of size 3"), "{}", text(&out));

    // A path hash altered, or a proof against another key, fails.
    let mut proof: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let first = proof["consistency_path"][0].as_str().unwrap().to_string();
    let flipped = if first.starts_with('A') { first.replacen('A', "B", 1) } else { format!("A{}", &first[1..]) };
    proof["consistency_path"][0] = serde_json::Value::from(flipped);
    std::fs::write(&file, proof.to_string()).unwrap();
    assert_eq!(rampart(&["audit", "check-proof", file.to_str().unwrap(), "--key", &a.vkey]).status.code(), Some(1));
    let other = Audit::new();
    let out = rampart(&["audit", "prove-consistency", "--from", held.to_str().unwrap(), "--dir", a.dir.to_str().unwrap(), "--key", &other.vkey]);
    assert!(!out.status.success());
}
