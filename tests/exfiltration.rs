//! The exfiltration guard through the real binary, in front of the real testbed app (5,000
//! contacts, pages open without a login as a scraper with a stolen session would see them):
//!
//! * a walk of `/contacts/1..5000`, each id from another source, is stopped before it gets
//!   2% of the records, and the event names the pattern;
//! * one anonymous client's export is over its budget and refused, while a staff export of
//!   the same data goes through.
//!
//! Sources are named with `X-Forwarded-For` from the trusted loopback peer; the staff network
//! 198.51.100.0/24 is a `[[priority]]` class with its own, larger budget (no flood defence, to
//! measure this guard alone).

mod common;
#[path = "common/testbed.rs"]
mod testbed;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{client, wait_json_logs, Rampart};
use rampart_testbed::TestbedOptions;
use testbed::{config_for_testbed, Testbed};

const CONTACTS: usize = 5000;

const CONFIG: &str = r#"
[server]
trusted_proxies = ["127.0.0.0/8"]
client_address = "x-forwarded-for"

[[route]]
path = "/contacts"
upstream = "app"
sensitive = true

[[route]]
path = "/export.csv"
upstream = "app"
sensitive = true

[[route]]
path = "/"
upstream = "app"

[flood]
enabled = false

[[priority]]
class = "staff"
networks = ["198.51.100.0/24"]

# Staff first: a request is judged by the first entry whose identity applies.
[[exfiltration]]
route = "/contacts"
identity = "staff:session"
budget = { records = 20000, per = "10m" }

[[exfiltration]]
route = "/contacts"
identity = "client"
budget = { records = 500, per = "10m" }
enumeration = { ids = "/contacts/{id}" }

[[exfiltration]]
route = "/export.csv"
identity = "staff:session"
budget = { records = 20000, per = "10m" }

[[exfiltration]]
route = "/export.csv"
identity = "client"
budget = { records = 500, per = "10m" }
"#;

fn open_testbed() -> Testbed {
    Testbed::start(TestbedOptions { require_login: false, contacts: CONTACTS, ..TestbedOptions::default() })
}

#[test]
fn a_distributed_walk_of_contact_pages_is_stopped_before_2_percent() {
    let app = open_testbed();
    let r = Arc::new(Rampart::start(&config_for_testbed(app.addr, CONFIG)));
    let next = Arc::new(AtomicUsize::new(1));
    let served = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (r, next, served) = (r.clone(), next.clone(), served.clone());
            std::thread::spawn(move || {
                let http = client();
                loop {
                    let id = next.fetch_add(1, Ordering::SeqCst);
                    if id > CONTACTS {
                        return;
                    }
                    let source = format!("10.{}.{}.{}", id / 62_500, (id / 250) % 250, 1 + id % 250);
                    let resp = http.get(r.url(&format!("/contacts/{id}"))).header("x-forwarded-for", source).send().expect("request");
                    if resp.status() == 200 && resp.text().unwrap_or_default().contains("@") {
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let served = served.load(Ordering::SeqCst);
    let share = served as f64 * 100.0 / CONTACTS as f64;
    eprintln!("the walk got {served} of {CONTACTS} contacts ({share:.2}%) in {:?}", started.elapsed());
    assert!(served * 50 < CONTACTS, "the walk got {served} records ({share:.2}%), not under 2%");
    let events = wait_json_logs(&r, "rampart::event", Duration::from_secs(5), |l| {
        l.iter().any(|e| e["kind"] == "detection" && e["pattern"] == "enumeration_distributed")
    });
    let e = events.iter().find(|e| e["pattern"] == "enumeration_distributed").expect("event");
    assert_eq!((e["stage"].as_str(), e["route"].as_str(), e["response"].as_str()), (Some("exfiltration"), Some("/contacts"), Some("block")));
    // Staff still read contact pages.
    let staff = client().get(r.url("/contacts/4321")).header("x-forwarded-for", "198.51.100.10").send().expect("staff");
    assert_eq!(staff.status(), 200);
}

#[test]
fn an_anonymous_export_is_over_budget_and_a_staff_export_goes_through() {
    let app = open_testbed();
    let r = Rampart::start(&config_for_testbed(app.addr, CONFIG));
    let anonymous = client().get(r.url("/export.csv")).header("x-forwarded-for", "203.0.113.50").send().expect("export");
    assert_eq!(anonymous.status(), 403);
    let staff = client().get(r.url("/export.csv")).header("x-forwarded-for", "198.51.100.10").send().expect("staff export");
    assert_eq!(staff.status(), 200);
    let csv = staff.text().expect("csv");
    assert_eq!(csv.lines().count(), CONTACTS + 1, "header and every contact");
    let events = wait_json_logs(&r, "rampart::event", Duration::from_secs(5), |l| {
        l.iter().any(|e| e["kind"] == "detection" && e["pattern"] == "budget_records")
    });
    let e = events.iter().find(|e| e["pattern"] == "budget_records").expect("event");
    assert_eq!((e["identity"].as_str(), e["route"].as_str()), (Some("client:203.0.113.50"), Some("/export.csv")));
    assert!(e["volume"].as_str().unwrap_or("").contains("5000 more"), "{e}");
}
