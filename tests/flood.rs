//! The flood defence through the real binary: calm traffic teaches the detector its baseline,
//! then `rampart drill flood` (thousands of bound 127.x.y.z sources) hits the testbed through
//! Rampart while a staff probe (a `[[priority]]` network) runs beside it. The mode must rise
//! while the flood runs and be back to normal within 30 s of its end, both moments must be in
//! the event log, the flood must be challenged or dropped, and staff must keep being served.
//! The figures (time to detect, time to stand down, staff success) are printed.

mod common;
#[path = "common/testbed.rs"]
mod testbed;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{admin_section, client, temp_dir, Rampart, ADMIN_TOKEN};
use rampart_testbed::TestbedOptions;
use testbed::{config_for_testbed, Testbed};

/// Polls `GET /api/mode` and remembers when each mode was first seen.
struct ModeWatch {
    seen: Arc<Mutex<Vec<(Duration, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ModeWatch {
    fn start(r: &Rampart, epoch: Instant) -> ModeWatch {
        let url = r.admin_url("/api/mode");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&seen), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let c = client();
            let mut last = String::new();
            // Bounded: at most 3 minutes of polling.
            while !st.load(Ordering::Relaxed) && epoch.elapsed() < Duration::from_secs(180) {
                if let Ok(v) = c.get(&url).bearer_auth(ADMIN_TOKEN).send().and_then(|r| r.json::<serde_json::Value>()) {
                    let mode = v["mode"].as_str().unwrap_or("").to_string();
                    if mode != last {
                        s.lock().unwrap().push((epoch.elapsed(), mode.clone()));
                        last = mode;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        ModeWatch { seen, stop, thread: Some(thread) }
    }

    fn first(&self, pred: impl Fn(&str) -> bool, after: Duration) -> Option<Duration> {
        self.seen.lock().unwrap().iter().find(|(t, m)| *t >= after && pred(m)).map(|(t, _)| *t)
    }
}

impl Drop for ModeWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// About `rate` requests per second from the test's own address for `for_`: the calm the
/// detector learns from.
fn calm_traffic(url: &str, rate: u32, for_: Duration) {
    let c = client();
    let start = Instant::now();
    let gap = Duration::from_secs(1) / rate;
    let mut i = 0u32;
    while start.elapsed() < for_ {
        let _ = c.get(format!("{url}?calm={i}")).send();
        i += 1;
        let due = gap * i;
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

#[test]
fn a_distributed_flood_is_detected_mitigated_and_stood_down_while_staff_are_served() {
    let tb = Testbed::start(TestbedOptions::default());
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    let config = config_for_testbed(
        tb.addr,
        &format!(
            "[[route]]\npath = \"/\"\nupstream = \"app\"\n\n[[priority]]\nclass = \"staff\"\nnetworks = [\"127.0.0.2/32\"]\n\n\
             [flood]\nsensitivity = \"high\"\nmin_rate = \"30/s\"\nchallenge_difficulty = 16\n\n\
             [limits]\nmax_connections_per_client = 4096\nmax_connections_per_prefix = 8192\n\n{admin}"
        ),
    );
    let r = Rampart::start_in(dir, &config);
    let epoch = Instant::now();
    let watch = ModeWatch::start(&r, epoch);

    // 7 s of calm at ~20 req/s: past the detector's warm-up.
    calm_traffic(&r.url("/"), 20, Duration::from_secs(7));
    assert_eq!(watch.first(|m| m != "normal", Duration::ZERO), None, "calm traffic raised the mode");

    // The flood: 5 s, 128 connections from 5,000 bound sources, a staff probe beside it.
    let flood_start = epoch.elapsed();
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["drill", "flood", "--target", &r.url("/"), "--duration", "5s", "--connections", "128"])
        .args(["--sources", "5000", "--probe-source", "127.0.0.2", "--probe-rate", "10", "--json"])
        .output()
        .expect("rampart drill");
    let flood_end = epoch.elapsed();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("drill report: {e}\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));

    let raised = watch.first(|m| m != "normal", flood_start).expect("the flood never raised the mode");
    println!("mode raised {:.2} s after the drill started", (raised - flood_start).as_secs_f64());

    // Back to normal within 30 s of the end (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(40);
    let normal = loop {
        if let Some(t) = watch.first(|m| m == "normal", flood_end) {
            break t;
        }
        assert!(Instant::now() < deadline, "still {:?} 40 s after the flood", watch.seen.lock().unwrap().last());
        // A trickle of calm keeps the detector's ticks closing as real traffic would.
        let _ = client().get(r.url("/")).send();
        std::thread::sleep(Duration::from_millis(250));
    };
    let stand_down = normal.saturating_sub(flood_end);
    println!("mode back to normal {:.2} s after the drill ended", stand_down.as_secs_f64());
    assert!(stand_down <= Duration::from_secs(30), "stood down after {stand_down:?}");

    // Both moments are in the event log.
    common::eventually(Duration::from_secs(5), "both mode changes in the event log", || {
        let changes: Vec<String> = r.logs().into_iter().filter(|l| l.contains("\"mode_change\"")).collect();
        (changes.iter().any(|l| l.contains("\"from\":\"normal\"")) && changes.iter().any(|l| l.contains("\"to\":\"normal\"")))
            .then_some(())
    });

    // The flood met the defence; staff were served.
    let attack = &report["attack"];
    let requests = attack["requests"].as_u64().unwrap_or(0);
    let stopped = ["challenged", "blocked", "throttled", "shed"]
        .iter()
        .map(|k| attack["counts"][k].as_u64().unwrap_or(0))
        .sum::<u64>();
    let staff = report["probe"]["success_pct"].as_f64().unwrap_or(0.0);
    println!(
        "flood: {requests} requests, {stopped} challenged/blocked/throttled/shed; staff probe success {staff:.1}% ({})",
        report["probe"]["summary"]["requests"]
    );
    assert!(requests > 0 && stopped > 0, "{report:#}");
    assert!(staff >= 95.0, "staff success {staff}%: {report:#}");
}
