//! The audit side of issue 6 through the real binary and real sockets: sensitive-route
//! accesses written with the bytes and records that went out, a detection-only WAF letting an
//! SQL injection through and `rampart audit assess` calling it `data left` with a provable
//! record, a clean window with no evidence, admin actions and reloads on the record, and a
//! tampered log that assess refuses.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{admin_section, client, config_for, eventually, temp_dir, Backend, Rampart, ADMIN_TOKEN};
use rampart_audit::StoredRecord;
use serde_json::Value;

fn rampart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).output().expect("run rampart")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// RFC 3339 of `ms` (UTC), as a user would type it.
fn rfc3339(ms: u64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{}.{:03}", ms / 1000, ms % 1000), "+%Y-%m-%dT%H:%M:%S.%3NZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Every record of the log (unverified: the tests verify separately).
fn records(dir: &Path) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    rampart_audit::segment::scan(dir, &mut |frame| {
        out.push(serde_json::from_slice(frame.payload).unwrap());
        Ok(())
    })
    .unwrap();
    out
}

/// The latest checkpoint's tree size.
fn checkpointed(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("checkpoints"))
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok()).max().unwrap_or(0))
        .unwrap_or(0)
}

/// Wait until a record satisfying `pred` is in the log and under a signed checkpoint.
fn wait_record(dir: &Path, what: &str, pred: impl Fn(&StoredRecord) -> bool) -> StoredRecord {
    eventually(Duration::from_secs(15), what, || {
        let size = checkpointed(dir);
        records(dir).into_iter().find(|r| r.seq < size && pred(r))
    })
}

fn assess(dir: &Path, from: &str, to: &str, json: bool) -> Output {
    let mut args = vec!["audit", "assess", "--dir", dir.to_str().unwrap(), "--from", from, "--to", to];
    if json {
        args.push("--json");
    }
    rampart(&args)
}

/// A shield with the audit trail, a sensitive `/contacts`, a detection-only WAF with the
/// baseline rules, staff by network (10.0.0.0/8 through X-Forwarded-For) and the admin API.
struct Setup {
    _app: Backend,
    r: Rampart,
    dir: PathBuf,
    key: PathBuf,
    _keys: tempfile::TempDir,
}

/// A fresh signing key (`rampart audit keygen`) and where its log goes, in a temporary
/// directory that lives as long as the guard.
fn signing_key() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let keys = temp_dir();
    let key = keys.path().join("audit.key");
    let out = rampart(&["audit", "keygen", "--out", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let dir = keys.path().join("log");
    (keys, key, dir)
}

fn setup() -> Setup {
    let (keys, key, dir) = signing_key();
    let app = Backend::start("app");
    let run_dir = temp_dir();
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/baseline.conf");
    let extra = format!(
        "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\nclient_address = \"x-forwarded-for\"\n\n\
         [[route]]\nname = \"contacts\"\npath = \"/contacts\"\nupstream = \"app\"\nsensitive = true\n\n\
         [[priority]]\nclass = \"staff\"\nnetworks = [\"10.0.0.0/8\"]\n\n\
         [[exfiltration]]\nroute = \"/contacts\"\nidentity = \"client\"\nbudget = {{ records = 1000, per = \"10m\" }}\n\n\
         [waf]\nrules = [\"{rules}\"]\nmode = \"detect\"\n\n\
         [flood]\nenabled = false\n\n\
         [audit]\ndir = \"{dir}\"\nsigning_key = \"{key}\"\ncheckpoint_interval = \"100ms\"\negress_interval = \"1s\"\n\n{admin}",
        rules = rules.display(),
        dir = dir.display(),
        key = key.display(),
        admin = admin_section(run_dir.path()),
    );
    let r = Rampart::start_in(run_dir, &config_for(&app, &extra));
    Setup { _app: app, r, dir, key, _keys: keys }
}

/// GET `path` as `client` (X-Forwarded-For); the status and the body length.
fn get(s: &Setup, path: &str, client_addr: &str) -> (u16, usize) {
    let resp = client().get(s.r.url(path)).header("x-forwarded-for", client_addr).send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().unwrap().len())
}

#[test]
fn sensitive_accesses_attacks_let_through_and_admin_actions_are_assessed() {
    let s = setup();
    let t0 = now_ms();

    // A clean window: staff read a contact, the public reads the home page.
    let (status, staff_len) = get(&s, "/contacts/1", "10.1.2.3");
    assert_eq!(status, 200);
    assert_eq!(get(&s, "/", "198.51.100.5").0, 200);
    let staff =
        wait_record(&s.dir, "the staff access record", |r| r.kind == "access" && r.body["client"] == "10.1.2.3");
    let b = &staff.body;
    assert_eq!(
        (b["class"].as_str(), b["unverified"].as_bool(), b["sensitive"].as_bool()),
        (Some("staff"), Some(false), Some(true))
    );
    assert_eq!(
        (b["method"].as_str(), b["route"].as_str(), b["path"].as_str(), b["status"].as_u64()),
        (Some("GET"), Some("contacts"), Some("/contacts/1"), Some(200))
    );
    assert_eq!(b["bytes"].as_u64(), Some(staff_len as u64), "{b:?}");
    assert_eq!((b["records"].as_u64(), b["complete"].as_bool()), (Some(1), Some(true)), "{b:?}");
    // Only sensitive or flagged requests are accounted for: the home page has no access record.
    assert!(!records(&s.dir).iter().any(|r| r.kind == "access" && r.body["client"] == "198.51.100.5"));
    let t1 = now_ms() + 1;
    std::thread::sleep(Duration::from_millis(50));

    let out = assess(&s.dir, &rfc3339(t0), &rfc3339(t1), false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("verdict: NO EVIDENCE OF DATA LEAVING"), "{}", text(&out));

    // An SQL injection the detect-only WAF lets through to a 200, a public read of a contact,
    // and an operator pinning the mode.
    let (status, attack_len) = get(&s, "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", "203.0.113.66");
    assert_eq!(status, 200, "the WAF is detection-only");
    assert!(attack_len > 0);
    assert_eq!(get(&s, "/contacts/2", "198.51.100.9").0, 200);
    let set = client()
        .post(s.r.admin_url("/api/mode"))
        .bearer_auth(ADMIN_TOKEN)
        .body(r#"{"mode": "elevated", "for_secs": 60}"#)
        .send()
        .unwrap();
    assert_eq!(set.status().as_u16(), 200);
    let refused =
        client().post(s.r.admin_url("/api/mode")).bearer_auth("wrong").body(r#"{"mode": "normal"}"#).send().unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    s.r.signal("HUP");

    let attack =
        wait_record(&s.dir, "the attack's access record", |r| r.kind == "access" && r.body["client"] == "203.0.113.66");
    let b = &attack.body;
    assert_eq!(
        (b["status"].as_u64(), b["bytes"].as_u64(), b["sensitive"].as_bool()),
        (Some(200), Some(attack_len as u64), Some(false))
    );
    assert_eq!(b["flagged"][0]["stage"], "waf", "{b:?}");
    assert!(b["rules"].as_array().unwrap().iter().any(|r| r.as_str().is_some_and(|r| r.starts_with("97001"))), "{b:?}");
    assert!(!b["path"].as_str().unwrap().contains("UNION"), "the query stays out of the record: {b:?}");
    let admin = wait_record(&s.dir, "the admin action", |r| r.kind == "admin" && r.body["ok"] == true);
    assert_eq!(admin.body["action"], "set_mode");
    assert!(admin.body["actor"].as_str().unwrap().starts_with("admin token holder from 127."), "{:?}", admin.body);
    assert!(admin.body["detail"].as_str().unwrap().contains("mode elevated for 60s"), "{:?}", admin.body);
    wait_record(&s.dir, "the mode change", |r| r.kind == "mode_change" && r.body["to"] == "elevated");
    let denied = wait_record(&s.dir, "the refused admin call", |r| r.kind == "admin" && r.body["ok"] == false);
    assert!(
        denied.body["actor"].as_str().unwrap().starts_with("caller without a valid admin token"),
        "{:?}",
        denied.body
    );
    let config_digest = rampart_audit::record::digest(&std::fs::read(s.r.config_path()).unwrap());
    let reload = wait_record(&s.dir, "the reload", |r| {
        r.kind == "config_reload" && r.body["detail"].as_str().is_some_and(|d| d.starts_with("stages"))
    });
    assert_eq!(
        (reload.body["ok"].as_bool(), reload.body["digest"].as_str()),
        (Some(true), Some(config_digest.as_str()))
    );
    // Egress of the sensitive route, per interval.
    let egress = wait_record(&s.dir, "an egress summary with traffic", |r| {
        r.kind == "egress" && r.body["requests"].as_u64() > Some(0)
    });
    assert_eq!(egress.body["route"], "contacts");
    assert!(egress.body["bytes"].as_u64().unwrap() > 0, "{:?}", egress.body);

    let out = assess(&s.dir, &rfc3339(t1), "now", true);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["verdict"], "data_left");
    let findings = a["findings"].as_array().unwrap();
    let kinds: Vec<(u64, &str)> =
        findings.iter().map(|f| (f["record"].as_u64().unwrap(), f["kind"].as_str().unwrap())).collect();
    assert!(kinds.contains(&(attack.seq, "attack_answered")), "{kinds:?}");
    assert_eq!(findings[0]["severity"], "data_left");
    assert!(kinds.iter().any(|(_, k)| *k == "unverified_sensitive_access"), "{kinds:?}");
    assert!(!kinds.iter().any(|(seq, _)| *seq == staff.seq), "staff access is outside the window and verified anyway");

    // The human report names the same record, and the record proves offline.
    let out = assess(&s.dir, &rfc3339(t1), "now", false);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("verdict: DATA LEFT"), "{}", text(&out));
    assert!(text(&out).contains(&format!("#{:<8}", attack.seq)), "{}", text(&out));
    let proof = rampart(&["audit", "prove", &attack.seq.to_string(), "--dir", s.dir.to_str().unwrap()]);
    assert!(proof.status.success(), "{}", text(&proof));
    let file = s.key.with_file_name("proof.json");
    std::fs::write(&file, &proof.stdout).unwrap();
    let checked = rampart(&["audit", "check-proof", file.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(text(&checked).contains(&format!("ok: record {} is in the tree", attack.seq)), "{}", text(&checked));
}

#[test]
fn a_tampered_log_is_not_assessed() {
    let s = setup();
    let t0 = now_ms();
    assert_eq!(get(&s, "/contacts/3", "198.51.100.10").0, 200);
    let rec = wait_record(&s.dir, "the access record", |r| r.kind == "access");
    let from = rfc3339(t0.saturating_sub(60_000));
    let out = assess(&s.dir, &from, "now", false);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("verdict: REVIEW NEEDED"), "{}", text(&out));

    // The access record's status rewritten from 200 to 500, its checksum fixed to match (what
    // someone covering their tracks would do): only the tree can tell. The shield is stopped
    // first, as whoever edits the log would.
    let target = rec.seq;
    let mut s = s;
    s.r.signal("TERM");
    assert!(s.r.wait_exit(Duration::from_secs(30)).is_some(), "rampart did not stop");
    let seg = s.dir.join("segment-000000000000.log");
    let mut data = std::fs::read(&seg).unwrap();
    let mut at = 0;
    let mut found = false;
    while at + 8 <= data.len() {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let payload = &data[at + 8..at + 8 + len];
        let rec: StoredRecord = serde_json::from_slice(payload).unwrap();
        if rec.seq == target {
            let text = String::from_utf8(payload.to_vec()).unwrap().replacen("\"status\":200", "\"status\":500", 1);
            assert_eq!(text.len(), len);
            data[at + 8..at + 8 + len].copy_from_slice(text.as_bytes());
            data[at + 4..at + 8].copy_from_slice(&crc32(text.as_bytes()).to_le_bytes());
            found = true;
        }
        at += 8 + len;
    }
    assert!(found);
    std::fs::write(&seg, &data).unwrap();
    let out = assess(&s.dir, &from, "now", false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("does not verify: not assessed"), "{}", text(&out));
    assert!(text(&out).contains("was altered"), "{}", text(&out));
}

/// CRC-32 (IEEE), as the segment frames use.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The stages' own events — here a rate limit's automatic ban — reach the audit log, not only
/// the JSON log: stages are built apart from the proxy's sink (and again on every reload).
#[test]
fn a_stage_s_automatic_ban_is_on_the_record() {
    let (_keys, key, dir) = signing_key();
    let app = Backend::start("app");
    let extra = format!(
        "[[rate_limit]]\nrate = \"1/s\"\nburst = 1\naction = \"block\"\nban = {{ after = 2, duration = \"1m\" }}\n\n\
         [flood]\nenabled = false\n\n\
         [audit]\ndir = \"{dir}\"\nsigning_key = \"{key}\"\ncheckpoint_interval = \"100ms\"\n",
        dir = dir.display(),
        key = key.display(),
    );
    let r = Rampart::start(&config_for(&app, &extra));
    let statuses: Vec<u16> = (0..8).map(|_| client().get(r.url("/")).send().map(|r| r.status().as_u16()).unwrap_or(0)).collect();
    assert!(statuses.contains(&403), "{statuses:?}");
    let ban = wait_record(&dir, "the ban", |r| r.kind == "ban");
    println!("{:?}", ban.body);
    assert!(format!("{:?}", ban.body).contains("127.0.0.1"), "{:?}", ban.body);
    let out = rampart(&["audit", "verify", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}
