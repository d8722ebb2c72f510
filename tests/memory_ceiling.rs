//! Memory under a flood of distinct sources, through the real binary: `rampart drill flood`
//! sends each request from its own address in `X-Forwarded-For` (the shield trusts the drill's
//! loopback address as a proxy) to a shield with the flood defence, per-client and per-prefix
//! rate limits and a login guard under `[state] memory_ceiling = "16MiB"`. The stages' own
//! accounting stays under the ceiling, and the process's resident memory stops growing with the
//! number of sources: the second half of the sources adds (almost) nothing to what the first
//! half took. Bounded: 300,000 requests, 60 s per flood. `bench/sources.sh` does the same with
//! 10,000,000 sources on a release build.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{admin_section, config_for, metrics_text, temp_dir, Backend, Rampart};

const CEILING: u64 = 16 * 1024 * 1024;

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok())
    };
    field("VmRSS:").expect("VmRSS")
}

fn stage_bytes(r: &Rampart) -> u64 {
    metrics_text(r)
        .lines()
        .find(|l| l.starts_with("rampart_stage_memory_bytes"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("rampart_stage_memory_bytes") as u64
}

/// `sources` requests, one from each of the drill's first `sources` forwarded addresses.
fn flood(r: &Rampart, sources: u64) {
    let url = r.url("/");
    let n = sources.to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["drill", "flood", "--target", &url, "--source-mode", "xff", "--sources", &n, "--requests", &n])
        .args(["--connections", "32", "--requests-per-connection", "1000", "--duration", "60s", "--timeout", "5s", "--no-probe", "--json"])
        .output()
        .expect("rampart drill");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "drill failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    println!("drill: {} requests, {} req/s, {}", report["attack"]["requests"], report["requests_per_s"], report["attack"]["counts"]);
}

#[test]
fn distinct_sources_do_not_grow_memory_past_the_ceiling() {
    let backend = Backend::start("sources");
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    let extra = format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\nclient_address = \"x-forwarded-for\"\n\n\
         [limits]\nmax_connections_per_client = 10000\nmax_connections_per_prefix = 10000\naccept_rate = \"100000/s\"\n\n\
         [[rate_limit]]\nkey = \"client\"\nrate = \"50/s\"\nburst = 100\naction = \"throttle\"\n\n\
         [[rate_limit]]\nkey = \"prefix\"\nrate = \"500/s\"\nburst = 1000\naction = \"throttle\"\n\n\
         [[login]]\npath = \"/login\"\nfailure = {{ status = 401 }}\n\n\
         [state]\nmemory_ceiling = \"16MiB\"\n\n[log]\naccess_log = \"off\"\n\n{admin}"
    );
    let r = Rampart::start_in(dir, &config_for(&backend, &extra));
    let before = resident_kib(r.pid());

    // The drill's sources are the same addresses from 0 on each run: the first flood sends
    // 100,000 distinct sources, the second 200,000 (the first 100,000 again, then 100,000 new).
    flood(&r, 100_000);
    let half = resident_kib(r.pid());
    let half_stages = stage_bytes(&r);
    flood(&r, 200_000);
    std::thread::sleep(Duration::from_millis(500));
    let full = resident_kib(r.pid());
    let full_stages = stage_bytes(&r);
    println!(
        "resident: {} MiB before, {} MiB after 100,000 sources, {} MiB after 200,000; stage state {} KiB then {} KiB (ceiling {} KiB)",
        before / 1024,
        half / 1024,
        full / 1024,
        half_stages / 1024,
        full_stages / 1024,
        CEILING / 1024
    );
    assert!(full_stages <= CEILING, "stage state {full_stages} bytes over the {CEILING}-byte ceiling");
    // Per-source state would take tens of bytes a source: 100,000 more sources, several MiB.
    // The bounded structures take what they take by the first half and keep it.
    let grown = full.saturating_sub(half);
    assert!(grown < 4 * 1024, "100,000 more sources grew the resident set by {grown} KiB");
}
