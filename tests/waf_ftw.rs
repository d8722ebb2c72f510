//! The whole CRS regression suite through the real proxy: runs `rampart waf ftw` (the built
//! binary) on the shared CRS checkout with the project's overrides, prints its summary, and
//! asserts a pass rate of at least 97 % with at most 50 overrides.
//!
//! The shared data directory is `$RAMPART_SHARED`, else `<repo>/../shared`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rampart_waf::ftw::overrides::Overrides;

/// Lowest acceptable share of passing tests.
const MIN_PASS_RATE: f64 = 0.97;
/// Most override entries allowed: each is a known divergence, and they must stay few.
const MAX_OVERRIDES: usize = 50;

fn shared_dir() -> PathBuf {
    match std::env::var_os("RAMPART_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

/// `N passed, M failed` from the command's last summary line.
fn counts(stdout: &str) -> Option<(usize, usize)> {
    let line = stdout.lines().rev().find(|l| l.ends_with(" failed"))?;
    let (passed, failed) = line.split_once(" passed, ")?;
    Some((passed.trim().parse().ok()?, failed.trim_end_matches(" failed").trim().parse().ok()?))
}

#[test]
fn crs_regression_suite_through_the_proxy() {
    let shared = shared_dir();
    let crs = shared.join("crs");
    let overrides_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/rampart-waf/ftw-overrides.yaml");
    let overrides = Overrides::read(&overrides_file).expect("ftw-overrides.yaml");
    assert!(
        overrides.test_overrides.len() <= MAX_OVERRIDES,
        "{} override entries, more than {MAX_OVERRIDES}",
        overrides.test_overrides.len()
    );

    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["waf", "ftw", "--rules"])
        .arg(&crs)
        .arg("--tests")
        .arg(crs.join("tests/regression/tests"))
        .arg("--overrides")
        .arg(&overrides_file)
        .output()
        .expect("run rampart waf ftw");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if std::env::var_os("FTW_VERBOSE").is_some() {
        print!("{stdout}");
    }
    eprint!("{}", stderr.lines().filter(|l| l.starts_with("ftw:")).map(|l| format!("{l}\n")).collect::<String>());
    let summary: Vec<&str> = stdout.lines().rev().take(2).collect();
    for line in summary.iter().rev() {
        println!("waf ftw: {line}");
    }
    println!("waf ftw: {} s, {} override entries", started.elapsed().as_secs(), overrides.test_overrides.len());

    let Some((passed, failed)) = counts(&stdout) else {
        panic!("no summary line; status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    };
    // Exit 1 means "some tests failed", which the pass rate judges; anything else is a crash.
    assert!(output.status.code().is_some_and(|c| c <= 1), "rampart waf ftw crashed: {:?}\n{stderr}", output.status);
    let rate = passed as f64 / (passed + failed).max(1) as f64;
    assert!(passed > 0, "no test passed");
    assert!(rate >= MIN_PASS_RATE, "pass rate {:.2} % below {:.0} %", rate * 100.0, MIN_PASS_RATE * 100.0);
}

#[test]
fn summary_line_is_read() {
    assert_eq!(counts("FAIL 1-1: x\nskipped: 0, overridden: 0\n5082 passed, 3 failed\n"), Some((5082, 3)));
    assert_eq!(counts("nothing"), None);
}
