//! The CRS regression suite (go-ftw YAML), run in process against the CRS loaded as CRS's CI
//! configures ModSecurity. Prints `crs-regression: N passed, M failed` and a summary of the
//! failures by rule file; asserts a floor that is raised as the engine improves.
//! `FTW_FILTER=920` runs only matching files; `FTW_VERBOSE=1` lists every failure.

use std::path::Path;
use std::sync::Arc;

use rampart_waf::ftw::crs;
use rampart_waf::ftw::overrides::Overrides;
use rampart_waf::ftw::runner::{regression_engine, run_stage};
use rampart_waf::ftw::suite::run_suite;

/// Passing tests required (raise as the engine improves).
const FLOOR: usize = 5082;

#[test]
fn crs_regression_suite() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let crs_dir = crs::shared_dir(manifest).join("crs");
    let (builder, errors) = regression_engine(&crs_dir).expect("CRS loads");
    for e in &errors {
        eprintln!("load error (rule left out): {e}");
    }
    let engine = Arc::new(builder.build().expect("engine"));
    let overrides = Overrides::read(&manifest.join("ftw-overrides.yaml")).expect("ftw-overrides.yaml");
    let filter = std::env::var("FTW_FILTER").ok();
    let summary = run_suite(&crs_dir.join("tests/regression/tests"), &overrides, filter.as_deref(), &mut |stage| {
        run_stage(&engine, stage)
    });
    if std::env::var_os("FTW_VERBOSE").is_some() {
        for f in &summary.failures {
            println!("FAIL {f}");
        }
    }
    println!("failures by rule file (passed/failed):");
    for (group, (p, f)) in &summary.by_group {
        println!("  {group}: {p}/{f}");
    }
    println!(
        "load errors: {}, judged against ftw-overrides.yaml: {}, skipped by overrides: {}",
        errors.len(),
        summary.overridden,
        summary.skipped
    );
    println!("crs-regression: {} passed, {} failed", summary.passed, summary.failed);
    let floor = if filter.is_some() { 0 } else { FLOOR };
    assert!(summary.passed >= floor, "{} passed, below the floor of {floor}", summary.passed);
}
