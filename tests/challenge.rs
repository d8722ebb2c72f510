//! The challenge end to end: the real binary in front of the testbed, the mitigation mode
//! pinned to "under attack" through the admin API, then a real browser (Debian's Chromium,
//! driven by playwright-core from `tests/browser/`) gets through — with JavaScript by the
//! proof-of-work, without by the wait form — while curl, wrk and a plain HTTP client do not.
//! Screenshots land in `target/test-artifacts/challenge/` and their paths are printed.

mod common;
#[path = "common/testbed.rs"]
mod testbed;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{admin_section, client, eventually, metrics_text, temp_dir, Rampart, ADMIN_TOKEN};
use rampart_testbed::TestbedOptions;
use testbed::{config_for_testbed, Testbed};

/// Seconds the no-JavaScript path waits (doubled under attack).
const WAIT: u64 = 1;

fn shield(tb: &Testbed, flood: &str) -> Rampart {
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    let config = config_for_testbed(
        tb.addr,
        &format!(
            "[[route]]\npath = \"/\"\nupstream = \"app\"\n\n[[priority]]\nclass = \"staff\"\nnetworks = [\"127.0.0.3/32\"]\n\n\
             [flood]\n{flood}\n\n{admin}"
        ),
    );
    Rampart::start_in(dir, &config)
}

fn pin(r: &Rampart, mode: &str) -> serde_json::Value {
    let resp = client()
        .post(r.admin_url("/api/mode"))
        .bearer_auth(ADMIN_TOKEN)
        .body(format!("{{\"mode\": \"{mode}\"}}"))
        .send()
        .expect("admin api");
    assert_eq!(resp.status(), 200);
    resp.json().expect("json")
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/challenge");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

/// `npm install` in tests/browser when playwright-core is missing (scripts/test.sh does it
/// first; this keeps `cargo nextest run --test challenge` working alone).
fn browser_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        let ok = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) is needed for the browser test: scripts/test.sh installs it");
        assert!(ok.success(), "npm install in tests/browser failed");
    }
    assert!(std::path::Path::new("/usr/bin/chromium").exists(), "Debian's chromium is needed: scripts/test.sh installs it");
    dir
}

#[test]
fn a_browser_gets_through_the_challenge_and_scripts_do_not() {
    let tb = Testbed::start(TestbedOptions::default());
    let r = shield(&tb, &format!("challenge_difficulty = 12\nchallenge_wait = \"{WAIT}s\""));
    // Calm: nobody is challenged.
    let calm = client().get(r.url("/")).send().expect("calm request");
    assert_eq!(calm.status(), 200);
    assert!(calm.headers().get("x-rampart-challenge").is_none());

    let mode = pin(&r, "under_attack");
    assert_eq!(mode["mode"], "under_attack");

    // A plain HTTP client is challenged; asking for JSON gets the documented protocol.
    let resp = client().get(r.url("/contacts")).header("accept", "application/json").send().expect("request");
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-rampart-challenge"], "12");
    let c: serde_json::Value = resp.json().expect("challenge json");
    assert_eq!(c["submit"], "/.rampart/challenge");
    assert!(c["challenge"].as_str().is_some_and(|s| s.starts_with("c1.")));

    // curl does not get through.
    let curl = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &r.url("/")])
        .output()
        .expect("curl (scripts/test.sh installs it)");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "403");

    // Staff (a priority network) are never challenged.
    let staff = reqwest::blocking::Client::builder()
        .local_address("127.0.0.3".parse::<std::net::IpAddr>().unwrap())
        .build()
        .expect("staff client");
    assert_eq!(staff.get(r.url("/")).send().expect("staff request").status(), 200);

    // A real browser gets through, with and without JavaScript.
    let out = artifacts();
    let run = Command::new("node")
        .arg("challenge.mjs")
        .arg(r.base())
        .arg(&out)
        .arg((WAIT * 2).to_string())
        .current_dir(browser_dir())
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "browser run failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    for check in ["js_solved", "js_kept_clearance", "nojs_challenged", "nojs_through"] {
        assert!(stdout.contains(&format!("\"check\":\"{check}\"")), "missing {check}");
    }
    // The JavaScript run solves too fast to photograph its interstitial; the no-JavaScript
    // run shows the same page with its wait form.
    for shot in ["after-clearance.png", "challenge-nojs.png", "after-nojs.png"] {
        let p = out.join(shot);
        assert!(std::fs::metadata(&p).map(|m| m.len() > 1000).unwrap_or(false), "screenshot {}", p.display());
        println!("screenshot: {}", p.display());
    }

    // The clearances were granted by the gate, and logged.
    eventually(Duration::from_secs(5), "clearance log lines", || {
        let n = r.logs().iter().filter(|l| l.contains("clearance granted")).count();
        (n >= 2).then_some(())
    });

    // Standing down: released, the mode is the detector's again (normal).
    assert_eq!(pin(&r, "auto")["mode"], "normal");
    assert_eq!(client().get(r.url("/")).send().expect("request").status(), 200);
}

#[test]
fn wrk_does_not_get_through() {
    if Command::new("wrk").arg("--version").output().is_err() {
        panic!("wrk is needed: scripts/test.sh installs it");
    }
    let tb = Testbed::start(TestbedOptions::default());
    let r = shield(&tb, "challenge_difficulty = 12");
    pin(&r, "under_attack");
    let out = Command::new("wrk").args(["-t1", "-c4", "-d2s", &r.url("/")]).output().expect("wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let total: u64 = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("wrk summary");
    let non_2xx: u64 = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    println!("wrk: {total} requests, {non_2xx} not 2xx/3xx\n{text}");
    assert!(total > 0);
    assert_eq!(non_2xx, total, "every wrk request must be challenged");
}

/// `rampart drill`'s probe with `--probe-solve` solves the challenge as the README's protocol
/// says (JSON challenge, proof of work, redemption, cookie): each user first asks for one ahead
/// of time (`GET /.rampart/challenge`), and solves again the challenge it meets once its
/// clearance (1 s here) has expired; every request is served. The same probe without it is
/// challenged on every request, then banned for skipping the challenge.
#[test]
fn the_drill_probe_solves_the_challenge_like_a_scripted_client_allowed_in() {
    let tb = Testbed::start(TestbedOptions::default());
    let r = shield(&tb, "challenge_difficulty = 12\nclearance_ttl = \"1s\"");
    pin(&r, "under_attack");
    let probe = |solve: bool| -> serde_json::Value {
        let url = r.url("/");
        let mut args = vec!["drill", "calm", "--target", &url, "--duration", "3s", "--probe-rate", "5", "--json"];
        if solve {
            args.push("--probe-solve");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_rampart")).args(&args).output().expect("rampart drill");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "drill failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str::<serde_json::Value>(&stdout).expect("JSON report")["probe"].clone()
    };
    let solving = probe(true);
    println!("solving probe: {solving}");
    let requests = solving["summary"]["requests"].as_u64().expect("requests");
    assert!(requests >= 5, "{requests} probe requests");
    assert_eq!(solving["summary"]["counts"]["passed"].as_u64(), Some(requests), "every request served: {solving}");
    assert!(solving["who"].as_str().unwrap_or_default().contains("clearance holder"));
    let earned = solving["summary"]["earned"].as_array().expect("earned clearances");
    let ahead = earned.iter().filter(|e| e["ahead"] == true).count();
    assert_eq!(ahead, 2, "each of the 2 users earned one ahead of time: {earned:?}");
    assert!(earned.len() > ahead, "an expired clearance is earned again on a challenged request: {earned:?}");
    // Under attack, a clearance holder served on a shared worker is asked to reconnect, and its
    // next connection moves to the clearance holders' worker (cleartext HTTP/1).
    let moved = moved_to(&r, "cleared");
    assert!(moved >= 2, "the clearance holders' connections were moved: {moved}");
    assert_eq!(moved_to(&r, "priority"), 0, "no staff here");
    let plain = probe(false);
    assert_eq!(plain["summary"]["counts"]["passed"].as_u64(), Some(0), "{plain}");
    // Challenged on every request, until it is banned for skipping the challenge repeatedly.
    let counts = &plain["summary"]["counts"];
    let (challenged, blocked) = (counts["challenged"].as_u64().unwrap_or(0), counts["blocked"].as_u64().unwrap_or(0));
    assert!(challenged > 0, "{plain}");
    assert_eq!(Some(challenged + blocked), plain["summary"]["requests"].as_u64(), "{plain}");
}

/// Staff known by a verified session cookie (not by their network) are, under attack, moved
/// to the priority worker like staff networks: served on a shared worker once, asked to
/// reconnect, and their next connection sorted by its first request head. Every request served.
#[test]
fn staff_sessions_move_to_the_priority_worker_under_attack() {
    let tb = Testbed::start(TestbedOptions::default());
    let dir = temp_dir();
    let key = dir.path().join("staff.key");
    std::fs::write(&key, b"a staff session key of some length").unwrap();
    let admin = admin_section(dir.path());
    let config = config_for_testbed(
        tb.addr,
        &format!(
            "[[route]]\npath = \"/\"\nupstream = \"app\"\n\n[[priority]]\nclass = \"staff\"\ncookie = \"staff_session\"\n\
             verify = {{ jwt_hs256_key_file = \"{}\" }}\n\n[flood]\nchallenge_difficulty = 12\n\n{admin}",
            key.display()
        ),
    );
    let r = Rampart::start_in(dir, &config);
    pin(&r, "under_attack");
    let jwt = rampart_shield::priority::sign_hs256(&serde_json::json!({"sub": "alice", "exp": 4_102_444_800u64}), b"a staff session key of some length");
    let url = r.url("/");
    let cookie = format!("staff_session={jwt}");
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["drill", "calm", "--target", &url, "--duration", "2s", "--probe-rate", "5", "--probe-cookie", &cookie, "--json"])
        .output()
        .expect("rampart drill");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "drill failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let probe = serde_json::from_str::<serde_json::Value>(&stdout).expect("JSON report")["probe"].clone();
    let requests = probe["summary"]["requests"].as_u64().expect("requests");
    assert!(requests >= 5, "{probe}");
    assert_eq!(probe["summary"]["counts"]["passed"].as_u64(), Some(requests), "staff are never challenged: {probe}");
    let moved = moved_to(&r, "priority");
    assert!(moved >= 2, "each staff user's connection moved to the priority worker: {moved}");
}

/// `rampart_connections_moved_total{worker}`: connections moved to a lane's worker.
fn moved_to(r: &Rampart, worker: &str) -> u64 {
    let metrics = metrics_text(r);
    let prefix = format!("rampart_connections_moved_total{{worker=\"{worker}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(prefix.as_str())).and_then(|n| n.parse().ok()).unwrap_or(0)
}
