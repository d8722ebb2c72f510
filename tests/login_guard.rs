//! The login guard through the real binary, in front of the real testbed app:
//!
//! * Debian's `hydra` replays the testbed's 10,000-pair leaked list from one source: it finds no
//!   credential and is blocked within its first 100 attempts, while a staff member on the staff
//!   network logs in at the same moment, first try;
//! * a distributed run, 1,000 sources × 5 attempts, is detected and answered with challenges
//!   well within 30 s, and the event names the pattern;
//! * neither run leaves a password or a plaintext user name in anything Rampart printed.
//!
//! Sources are named with `X-Forwarded-For` from the trusted loopback peer. Needs `hydra`
//! (`scripts/test.sh` installs it).

mod common;
#[path = "common/testbed.rs"]
mod testbed;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_json_logs, Rampart};
use rampart_testbed::{TestbedOptions, DEMO_PASSWORD, DEMO_USERNAME};
use testbed::{config_for_testbed, Testbed};

/// Trusted loopback proxy; 198.51.100.0/24 is the staff network (`[[priority]]`: the guard
/// judges it apart from the public); `/login` guarded with the defaults. The testbed
/// answers a failed form login with the form again (200) and its message.
const CONFIG: &str = r#"
[server]
trusted_proxies = ["127.0.0.0/8"]
client_address = "x-forwarded-for"

[[route]]
path = "/"
upstream = "app"

# The flood defence would answer hydra's rate on its own: off, to measure the login guard.
[flood]
enabled = false

[[priority]]
class = "staff"
networks = ["198.51.100.0/24"]

[[login]]
path = "/login"
failure = { body = "invalid username or password" }
"#;

const ATTACKER: &str = "203.0.113.7";

fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn login(client: &reqwest::blocking::Client, r: &Rampart, source: &str, user: &str, password: &str) -> u16 {
    client
        .post(r.url("/login"))
        .header("x-forwarded-for", source)
        .form(&[("username", user), ("password", password)])
        .send()
        .map(|resp| resp.status().as_u16())
        .unwrap_or(0)
}

/// Everything Rampart printed must be free of every password tried and every user name:
/// each is looked up among the words of the output (split where JSON, query strings and log
/// fields split), and the first 20 pairs and the demo account also as plain substrings.
fn assert_no_secrets(r: &Rampart, pairs: &[String]) {
    let started = Instant::now();
    let logs = r.logs().join("\n");
    assert!(logs.contains("login_guard"), "the guard's decisions are logged");
    // Sorted words, searched by bisection: a debug build hashes millions of words slowly.
    let mut separator = [false; 256];
    for b in b" \t\n\r\"',:;=&{}[]()<>/\\?#" {
        separator[usize::from(*b)] = true;
    }
    let mut words: Vec<&[u8]> = logs.as_bytes().split(|b| separator[usize::from(*b)]).filter(|w| w.len() >= 6).collect();
    words.sort_unstable();
    words.dedup();
    let mut secrets: Vec<(&str, &str)> = pairs.iter().map(|p| p.split_once(':').expect("user:password")).collect();
    secrets.push((DEMO_USERNAME, DEMO_PASSWORD));
    for (i, (user, password)) in secrets.iter().enumerate() {
        let encoded = user.replace('@', "%40");
        for secret in [*user, encoded.as_str(), *password] {
            // Short common words ("admin") could be a log word by chance; six characters or
            // more must not appear.
            if secret.len() < 6 {
                continue;
            }
            assert!(words.binary_search(&secret.as_bytes()).is_err(), "`{secret}` appears in Rampart's output");
            // As a substring too, unless it is all digits (timestamps and durations are full
            // of digit runs).
            if (i < 20 || i == secrets.len() - 1) && !secret.bytes().all(|b| b.is_ascii_digit()) {
                assert!(!logs.contains(secret), "`{secret}` appears in Rampart's output");
            }
        }
    }
    eprintln!("{} secrets looked for in {} bytes of output in {:?}", secrets.len(), logs.len(), started.elapsed());
}

#[test]
fn hydra_finds_nothing_and_is_blocked_while_staff_log_in() {
    assert!(
        Command::new("hydra").arg("-h").output().is_ok(),
        "hydra is not installed; run scripts/test.sh (Debian package `hydra`)"
    );
    let app = Testbed::start(TestbedOptions::default());
    let r = Rampart::start(&config_for_testbed(app.addr, CONFIG));
    let pairs = rampart_testbed::leaked_passwords();
    assert_eq!(pairs.len(), 10_000);
    let list = r.dir.path().join("leaked.txt");
    std::fs::write(&list, pairs.join("\n") + "\n").expect("write list");

    let port = r.addrs[0].port().to_string();
    // Optional parameters before the condition: hydra 9.4 reads the last part as it.
    let form = format!("/login:username=^USER^&password=^PASS^:H=X-Forwarded-For\\: {ATTACKER}:S=session=");
    let started = Instant::now();
    let hydra = Command::new("hydra")
        // 64 tasks, hydra's most: the first block comes later than with fewer (64 attempts are
        // in flight before the first failure is counted), and 10,000 attempts take ~45 s.
        .args(["-I", "-t", "64", "-s", &port, "-C"])
        .arg(&list)
        .args(["127.0.0.1", "http-post-form", &form])
        .current_dir(r.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start hydra");

    // The staff member logs in while hydra runs: once the attacker is already being refused.
    wait_json_logs(&r, "rampart::access", Duration::from_secs(30), |l| {
        l.iter().any(|x| x["client"] == ATTACKER && x["stage"] == "login_guard" && x["status"] == 403)
    });
    let staff = login(&no_redirects(), &r, "198.51.100.10", DEMO_USERNAME, DEMO_PASSWORD);
    assert_eq!(staff, 303, "the staff login must succeed at the first try during the attack");

    let out = hydra.wait_with_output().expect("hydra runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("hydra took {:?}:\n{stdout}", started.elapsed());
    assert!(stdout.contains("0 valid password"), "hydra must find no credential:\n{stdout}");

    let access = wait_json_logs(&r, "rampart::access", Duration::from_secs(10), |l| {
        l.iter().filter(|x| x["client"] == ATTACKER && x["method"] == "POST").count() >= 10_000
    });
    // hydra GETs the form before each POST.
    let attempts: Vec<_> = access.iter().filter(|x| x["client"] == ATTACKER && x["method"] == "POST").collect();
    assert_eq!(attempts.len(), 10_000, "hydra's attempts through the shield");
    let reached = attempts.iter().filter(|x| x["upstream_status"].is_u64()).count();
    let blocked_at = attempts.iter().position(|x| x["stage"] == "login_guard" && x["status"] == 403).expect("blocked");
    let succeeded = attempts.iter().filter(|x| x["upstream_status"] == 303).count();
    eprintln!("hydra: {reached} attempts reached the app, first block at attempt {}", blocked_at + 1);
    assert_eq!(succeeded, 0);
    assert!(blocked_at < 100, "blocked only at attempt {}", blocked_at + 1);
    assert!(reached < 100, "{reached} attempts reached the app");
    assert_no_secrets(&r, &pairs);
}

#[test]
fn distributed_stuffing_is_detected_and_challenged_within_30s() {
    let app = Testbed::start(TestbedOptions::default());
    let r = Arc::new(Rampart::start(&config_for_testbed(app.addr, CONFIG)));
    let pairs = Arc::new(rampart_testbed::leaked_passwords());
    const SOURCES: usize = 1000;
    const EACH: usize = 5;
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let first_refusal = Arc::new(std::sync::Mutex::new(None::<Duration>));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (r, pairs, next, refused, first_refusal) = (r.clone(), pairs.clone(), next.clone(), refused.clone(), first_refusal.clone());
            std::thread::spawn(move || {
                let client = no_redirects();
                loop {
                    // Round by round: every source tries once, then again, like a botnet's
                    // scheduler spreading its attempts.
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= SOURCES * EACH {
                        return;
                    }
                    let source = n % SOURCES;
                    let ip = format!("10.{}.{}.{}", source / 200, source % 200, 1 + n / SOURCES);
                    let (user, password) = pairs[n].split_once(':').expect("pair");
                    let status = login(&client, &r, &ip, user, password);
                    assert_ne!(status, 303, "the leaked list holds no working credential");
                    if status != 200 {
                        refused.fetch_add(1, Ordering::SeqCst);
                        first_refusal.lock().unwrap().get_or_insert(started.elapsed());
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let took = started.elapsed();
    let first = first_refusal.lock().unwrap().expect("the run was answered with refusals");
    let refused = refused.load(Ordering::SeqCst);
    eprintln!("{} attempts in {took:?}; first refusal after {first:?}; {refused} refused", SOURCES * EACH);
    assert!(first < Duration::from_secs(30), "escalated only after {first:?}");
    let events = wait_json_logs(&r, "rampart::event", Duration::from_secs(5), |l| {
        l.iter().any(|e| e["kind"] == "detection" && e["pattern"] == "credential_stuffing_distributed")
    });
    let event = events.iter().find(|e| e["pattern"] == "credential_stuffing_distributed").expect("event");
    assert_eq!((event["stage"].as_str(), event["response"].as_str()), (Some("login_guard"), Some("challenge")));
    assert!(event["volume"].as_str().unwrap_or("").contains("sources"), "{event}");
    assert!(refused > SOURCES * EACH / 2, "only {refused} of {} attempts refused", SOURCES * EACH);
    // The staff member still gets in.
    assert_eq!(login(&no_redirects(), &r, "198.51.100.10", DEMO_USERNAME, DEMO_PASSWORD), 303);
    assert_no_secrets(&r, &pairs[..SOURCES * EACH]);
}

#[test]
fn rampart_drill_stuffing_is_detected_and_escalated_within_30s() {
    let app = Testbed::start(TestbedOptions::default());
    let r = Rampart::start(&config_for_testbed(app.addr, CONFIG));
    let started = Instant::now();
    let drill = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["drill", "stuffing", "--target", &r.base(), "--sources", "1000", "--attempts-per-source", "5"])
        // The drill sends its 5,000 attempts in seconds; it may idle out the rest of its time.
        .args(["--source-mode", "xff", "--duration", "20s", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start rampart drill");
    let events = wait_json_logs(&r, "rampart::event", Duration::from_secs(30), |l| {
        l.iter().any(|e| e["kind"] == "detection" && e["pattern"] == "credential_stuffing_distributed")
    });
    let detected = started.elapsed();
    let event = events.iter().find(|e| e["pattern"] == "credential_stuffing_distributed").expect("event");
    assert_eq!(event["response"], "challenge", "{event}");
    let out = drill.wait_with_output().expect("drill runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "drill failed:\n{report}\n{}", String::from_utf8_lossy(&out.stderr));
    let is_login = |x: &serde_json::Value| x["method"] == "POST" && x["path"] == "/login";
    let access = wait_json_logs(&r, "rampart::access", Duration::from_secs(10), |l| l.iter().filter(|x| is_login(x)).count() >= 5000);
    let logins: Vec<_> = access.iter().filter(|x| is_login(x)).collect();
    let refused = logins.iter().filter(|x| x["stage"] == "login_guard" && x["status"] != 200).count();
    eprintln!("drill stuffing: detected after {detected:?}; {refused} of {} attempts refused", logins.len());
    assert_eq!(logins.len(), 5000, "1,000 sources x 5 attempts");
    assert!(refused * 2 > logins.len(), "only {refused} refused");
    assert_no_secrets(&r, &rampart_testbed::leaked_passwords()[..5000]);
}
