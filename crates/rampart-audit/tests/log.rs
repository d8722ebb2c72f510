//! The log end to end through the library: append, close, reopen, verify; torn tails repaired;
//! tampering of every byte refused; the queue's losses on the record; rotation; key placement.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rampart_audit::{verify, AuditError, AuditLog, NoteSigner, NoteVerifier, Options, Record};
use serde_json::{json, Map, Value};

struct Fixture {
    _root: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
    verifier: NoteVerifier,
}

fn fixture() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let key = root.path().join("audit.key");
    let signer = NoteSigner::generate("test.rampart/audit").unwrap();
    std::fs::write(&key, signer.to_text()).unwrap();
    let dir = root.path().join("log");
    Fixture { verifier: signer.verifier(), dir, key, _root: root }
}

fn body(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn record(i: u64) -> Record {
    Record { kind: "test".into(), at_ms: 1_000 + i, body: body(json!({"i": i})) }
}

fn write(f: &Fixture, n: u64, options: impl FnOnce(&mut Options)) {
    let mut o = Options::new(&f.dir, &f.key);
    options(&mut o);
    let log = AuditLog::open(o).unwrap();
    let start = log.opened().records;
    for i in 0..n {
        assert_eq!(log.append(record(i)).unwrap(), start + i);
    }
    log.close().unwrap();
}

fn segment0(dir: &Path) -> PathBuf {
    dir.join("segment-000000000000.log")
}

#[test]
fn appended_records_verify_and_survive_reopening() {
    let f = fixture();
    write(&f, 5, |_| {});
    write(&f, 3, |_| {});
    let v = verify(&f.dir, &f.verifier, &[], false).unwrap();
    assert_eq!((v.records, v.checkpoints), (8, 2));
    assert_eq!(v.latest.unwrap().checkpoint.size, 8);
    let proof = rampart_audit::inclusion::prove(&f.dir, &f.verifier, 6).unwrap();
    assert_eq!(proof.check(&f.verifier).unwrap().size, 8);
    assert!(proof.record.contains("\"seq\":6"));
    let mut forged = proof.clone();
    forged.record = forged.record.replace("\"i\":1", "\"i\":2");
    assert!(forged.check(&f.verifier).is_err());
}

#[test]
fn every_single_byte_flip_is_refused() {
    let f = fixture();
    write(&f, 4, |_| {});
    let seg = segment0(&f.dir);
    let original = std::fs::read(&seg).unwrap();
    for at in 0..original.len() {
        let mut bad = original.clone();
        bad[at] ^= 0x20;
        std::fs::write(&seg, &bad).unwrap();
        let result = verify(&f.dir, &f.verifier, &[], false);
        assert!(result.is_err(), "flipping byte {at} went unnoticed");
        // Nor will the writer extend a damaged log.
        assert!(AuditLog::open(Options::new(&f.dir, &f.key)).is_err(), "opened with byte {at} flipped");
        std::fs::write(&seg, &original).unwrap();
    }
    verify(&f.dir, &f.verifier, &[], false).unwrap();
}

#[test]
fn a_torn_tail_is_cut_off_on_open_and_earlier_damage_is_named() {
    let f = fixture();
    write(&f, 3, |_| {});
    // A crash mid-write after the last checkpoint: half a frame at the end.
    let seg = segment0(&f.dir);
    let clean = std::fs::read(&seg).unwrap();
    let mut torn = clean.clone();
    torn.extend_from_slice(&[40, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&seg, &torn).unwrap();
    let v = verify(&f.dir, &f.verifier, &[], false).unwrap();
    assert_eq!((v.records, v.torn.as_ref().map(|t| t.index)), (3, Some(3)));
    let log = AuditLog::open(Options::new(&f.dir, &f.key)).unwrap();
    assert_eq!(log.opened().repaired.as_ref().map(|t| t.offset), Some(clean.len() as u64));
    // The repair is itself record 3; the next append follows it.
    assert_eq!(log.append(record(9)).unwrap(), 4);
    log.close().unwrap();
    assert_eq!(verify(&f.dir, &f.verifier, &[], false).unwrap().records, 5);
    let mut kinds = Vec::new();
    rampart_audit::segment::scan(&f.dir, &mut |frame| {
        kinds.push(serde_json::from_slice::<rampart_audit::StoredRecord>(frame.payload).unwrap().kind);
        Ok(())
    })
    .unwrap();
    assert_eq!(kinds[3], "audit.repaired");

    // The same damage in the middle is corruption: segment, offset and index are named.
    let mut bad = std::fs::read(&seg).unwrap();
    bad[8 + 3] ^= 1; // inside record 0's payload
    std::fs::write(&seg, &bad).unwrap();
    match verify(&f.dir, &f.verifier, &[], false) {
        Err(AuditError::Corrupt { index: 0, offset: 0, segment, .. }) => assert_eq!(segment, seg),
        other => panic!("{other:?}"),
    }
}

#[test]
fn submit_never_blocks_and_losses_are_recorded() {
    let f = fixture();
    let mut o = Options::new(&f.dir, &f.key);
    o.queue = 4;
    let log = Arc::new(AuditLog::open(o).unwrap());
    let mut accepted = 0u64;
    for i in 0..20_000 {
        accepted += log.submit(record(i)) as u64;
    }
    let dropped = log.dropped();
    assert_eq!(accepted + dropped, 20_000);
    assert!(dropped > 0, "a queue of 4 took 20,000 records without dropping any");
    log.append(record(99)).unwrap(); // the writer notices the count on its next batch
    log.close().unwrap();
    let mut recorded = 0u64;
    let mut records = 0u64;
    let mut loss_records = 0u64;
    rampart_audit::segment::scan(&f.dir, &mut |frame| {
        let r: rampart_audit::StoredRecord = serde_json::from_slice(frame.payload).unwrap();
        if r.kind == "audit.dropped" {
            recorded += r.body["count"].as_u64().unwrap();
            loss_records += 1;
        }
        records += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(recorded, dropped);
    assert!(loss_records > 0);
    assert_eq!(records, accepted + 1 + loss_records);
    verify(&f.dir, &f.verifier, &[], false).unwrap();
}

#[test]
fn segments_rotate_by_size_and_a_removed_one_is_a_gap() {
    let f = fixture();
    write(&f, 40, |o| o.segment_max_bytes = 300);
    let segments = rampart_audit::segment::list(&f.dir).unwrap();
    assert!(segments.len() >= 5, "{segments:?}");
    assert_eq!(verify(&f.dir, &f.verifier, &[], false).unwrap().records, 40);
    std::fs::remove_file(&segments[2].1).unwrap();
    assert!(matches!(verify(&f.dir, &f.verifier, &[], false), Err(AuditError::SegmentGap { .. })));
}

#[test]
fn checkpoints_come_at_least_every_interval() {
    let f = fixture();
    let mut o = Options::new(&f.dir, &f.key);
    o.checkpoint_interval = Duration::from_millis(50);
    let log = AuditLog::open(o).unwrap();
    log.append(record(0)).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    // Without closing: the writer signed on its own.
    let cps = rampart_audit::verify::checkpoints(&f.dir, &f.verifier).unwrap();
    assert_eq!(cps.last().map(|c| c.checkpoint.size), Some(1));
    drop(log);
}

#[test]
fn the_key_must_live_outside_the_log_and_stay_the_same() {
    let f = fixture();
    std::fs::create_dir_all(&f.dir).unwrap();
    let inside = f.dir.join("audit.key");
    std::fs::copy(&f.key, &inside).unwrap();
    assert!(matches!(AuditLog::open(Options::new(&f.dir, &inside)), Err(AuditError::KeyInsideLog { .. })));
    std::fs::remove_file(&inside).unwrap();
    write(&f, 1, |_| {});
    let other = f.dir.parent().unwrap().join("other.key");
    std::fs::write(&other, NoteSigner::generate("test.rampart/audit").unwrap().to_text()).unwrap();
    assert!(matches!(AuditLog::open(Options::new(&f.dir, &other)), Err(AuditError::KeyChanged { .. })));
}

#[test]
fn retention_removes_old_segments_and_the_rest_still_verifies_and_proves() {
    let f = fixture();
    let retention = rampart_audit::Retention { max_bytes: Some(1_000), max_age: None };
    write(&f, 60, |o| {
        o.segment_max_bytes = 300;
        o.retention = retention;
    });
    let segments = rampart_audit::segment::list(&f.dir).unwrap();
    let on_disk: u64 = segments.iter().map(|(_, p)| std::fs::metadata(p).unwrap().len()).sum();
    assert!(on_disk <= 1_000, "{on_disk} bytes kept");
    let v = verify(&f.dir, &f.verifier, &[], false).unwrap();
    assert!(v.start > 0 && v.start == segments[0].0, "{} / {segments:?}", v.start);
    assert_eq!(v.records, 60);
    // Checkpoints that only covered removed records are gone; the rest verify.
    assert!(rampart_audit::verify::checkpoints(&f.dir, &f.verifier).unwrap().iter().all(|c| c.checkpoint.size >= v.start));

    // Proofs of kept records still check; removed ones are gone.
    let proof = rampart_audit::inclusion::prove(&f.dir, &f.verifier, v.start).unwrap();
    proof.check(&f.verifier).unwrap();
    assert!(rampart_audit::inclusion::prove(&f.dir, &f.verifier, v.start - 1).is_err());

    // Writing goes on from there.
    write(&f, 10, |o| {
        o.segment_max_bytes = 300;
        o.retention = retention;
    });
    assert_eq!(verify(&f.dir, &f.verifier, &[], false).unwrap().records, 70);

    // The base file is bound by the checkpoints after it: altering it fails; losing it is a gap.
    let base = f.dir.join("base");
    let original = std::fs::read_to_string(&base).unwrap();
    let last = original.trim_end().rsplit('\n').next().unwrap().to_string();
    let altered = original.replace(&last, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    std::fs::write(&base, altered).unwrap();
    assert!(matches!(verify(&f.dir, &f.verifier, &[], false), Err(AuditError::CheckpointMismatch { .. })));
    std::fs::remove_file(&base).unwrap();
    assert!(matches!(verify(&f.dir, &f.verifier, &[], false), Err(AuditError::SegmentGap { .. })));
    std::fs::write(&base, original).unwrap();
    verify(&f.dir, &f.verifier, &[], false).unwrap();
}

#[test]
fn retention_by_age_keeps_only_the_segment_being_written() {
    let f = fixture();
    write(&f, 30, |o| {
        o.segment_max_bytes = 300;
        o.retention = rampart_audit::Retention { max_bytes: None, max_age: Some(Duration::ZERO) };
    });
    assert_eq!(rampart_audit::segment::list(&f.dir).unwrap().len(), 1);
    let v = verify(&f.dir, &f.verifier, &[], false).unwrap();
    assert_eq!(v.records, 30);
    assert!(v.start > 0);
}
