//! `rampart demo`: the testbed app behind the shield on the fixed ports 127.0.0.1:8080 (shield),
//! 9090 (admin) and 9100 (testbed). The only test that uses those ports.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::eventually;

const SHIELD: &str = "http://127.0.0.1:8080";
/// Where the demo keeps its incidents (`examples/demo.toml`).
const INCIDENTS: &str = "/tmp/rampart-demo/incidents";

fn rampart(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).output().expect("rampart")
}

fn artifacts() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/demo");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

/// The ids `rampart incidents` lists for the demo's directory.
fn incident_ids() -> Vec<String> {
    let out = rampart(&["incidents", "--dir", INCIDENTS]);
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect()
}

/// `rampart drill flood` (4 s, 512 connections from 5,000 bound sources, on the testbed's cheapest
/// page so that a debug build floods fast enough) against the demo; the id of the incident it
/// opened (one not listed before it).
fn flood_opens_an_incident() -> String {
    let before = incident_ids();
    let out = rampart(&[
        "drill", "flood", "--target", "http://127.0.0.1:8080/", "--duration", "4s", "--connections", "512", "--sources", "5000",
        "--path", "/healthz", "--cache-bust", "--timeout", "2s", "--no-probe",
    ]);
    assert!(out.status.success(), "drill: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eventually(Duration::from_secs(10), "an incident opened by the flood", || {
        incident_ids().into_iter().find(|id| !before.contains(id))
    })
}

/// Kills the demo if the test fails half-way.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn demo_serves_the_testbed_through_the_shield_and_stops_on_sigterm() {
    for port in [8080, 9090, 9100] {
        if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            panic!("`rampart demo` needs 127.0.0.1:{port}, which is taken ({e}); stop whatever uses it and run again");
        }
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rampart demo");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
    ] {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            for l in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        });
    }
    let mut demo = Demo(child);
    let logs = || lines.lock().unwrap().join("\n");
    eventually(Duration::from_secs(20), "the demo banner", || {
        if let Ok(Some(status)) = demo.0.try_wait() {
            panic!("rampart demo exited with {status}:\n{}", logs());
        }
        logs().contains("Rampart demo").then_some(())
    });
    let up = std::time::Instant::now();

    let c = reqwest::blocking::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let home = c.get(format!("{SHIELD}/")).send().unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.headers().contains_key("x-request-id"), "not answered through the shield");
    assert_eq!(c.get(format!("{SHIELD}/contacts")).send().unwrap().status(), 401);

    let form = format!(
        "username={}&password={}",
        rampart_testbed::DEMO_USERNAME.replace('@', "%40"),
        rampart_testbed::DEMO_PASSWORD
    );
    let login = c
        .post(format!("{SHIELD}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .unwrap();
    assert_eq!(login.status(), 303);
    assert_eq!(login.headers()["location"], "/contacts");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert!(cookie.starts_with("session="), "{cookie}");
    let contacts = c.get(format!("{SHIELD}/contacts")).header("cookie", &cookie).send().unwrap();
    assert_eq!(contacts.status(), 200);
    let request_id = contacts.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(contacts.text().unwrap().contains("/contacts/"), "no contact links on the page");

    // The admin listener is up as announced.
    assert_eq!(c.get("http://127.0.0.1:9090/healthz").send().unwrap().status(), 200);

    // A drill flood against the demo opens an incident, whose HTML report opens in Chromium
    // (after the flood detector's first 5 s, in which it learns its baseline and declares nothing).
    std::thread::sleep(Duration::from_secs(6).saturating_sub(up.elapsed()));
    let incident = flood_opens_an_incident();
    let html = artifacts().join("demo-incident.html");
    let png = artifacts().join("demo-incident.png");
    let report = rampart(&["report", &incident, "--dir", INCIDENTS, "--format", "html", "--out", html.to_str().unwrap()]);
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let browser = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(browser.join("node_modules/playwright-core").exists(), "scripts/test.sh installs playwright-core");
    let run = Command::new("node").arg("report.mjs").arg(&html).arg(&png).current_dir(&browser).output().expect("node");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "browser: {stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains(&incident), "{stdout}");
    assert!(std::fs::metadata(&png).map(|m| m.len() > 10_000).unwrap_or(false), "screenshot {}", png.display());
    println!("incident {incident}: report {}, screenshot {}", html.display(), png.display());

    let pid = demo.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let code = eventually(Duration::from_secs(30), "the demo to exit after SIGTERM", || demo.0.try_wait().ok().flatten());
    assert_eq!(code.code(), Some(0), "{}", logs());
    assert!(std::net::TcpStream::connect("127.0.0.1:8080").is_err(), "the shield still listens after stopping");

    // The demo keeps an audit trail: announced with its verify command, the staff read of the
    // sensitive /contacts on the record, the log verifying against the key the demo made.
    assert!(logs().contains("audit     /tmp/rampart-demo/audit"), "{}", logs());
    assert!(logs().contains("verify: rampart audit verify /tmp/rampart-demo/audit --key /tmp/rampart-demo/audit.key.pub"), "{}", logs());
    let verify = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["audit", "verify", "/tmp/rampart-demo/audit", "--key", "/tmp/rampart-demo/audit.key.pub"])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
    let mut access = None;
    rampart_audit::segment::scan(std::path::Path::new("/tmp/rampart-demo/audit"), &mut |frame| {
        let r: rampart_audit::StoredRecord = serde_json::from_slice(frame.payload).unwrap();
        if r.kind == "access" && r.body["request_id"] == request_id.as_str() {
            access = Some(r);
        }
        Ok(())
    })
    .unwrap();
    let access = access.expect("the /contacts access record");
    assert_eq!((access.body["path"].as_str(), access.body["sensitive"].as_bool()), (Some("/contacts"), Some(true)));
    assert!(access.body["bytes"].as_u64().unwrap() > 0, "{:?}", access.body);
}
