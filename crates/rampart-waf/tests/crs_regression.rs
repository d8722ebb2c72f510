//! The CRS regression suite (go-ftw YAML), run in process against the CRS loaded as CRS's CI
//! configures ModSecurity. Prints `crs-regression: N passed, M failed` and a summary of the
//! failures by rule file; asserts a floor that is raised as the engine improves.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rampart_waf::ftw::model::read_test_file;
use rampart_waf::ftw::overrides::Overrides;
use rampart_waf::ftw::runner::{regression_engine, run_file, test_files, TestResult};
use rampart_waf::ftw::crs;

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

    let (mut passed, mut failed, mut skipped, mut overridden) = (0usize, 0usize, 0usize, 0usize);
    let mut by_group: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in test_files(&crs_dir.join("tests/regression/tests")) {
        let group = path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if filter.as_deref().is_some_and(|f| !path.to_string_lossy().contains(f)) {
            continue;
        }
        let file = match read_test_file(&path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("unreadable test file: {e}");
                failed += 1;
                continue;
            }
        };
        for outcome in run_file(&engine, &file, &group, &overrides) {
            let entry = by_group.entry(group.clone()).or_default();
            overridden += usize::from(outcome.overridden);
            match outcome.result {
                TestResult::Passed => {
                    passed += 1;
                    entry.0 += 1;
                }
                TestResult::Failed(why) => {
                    failed += 1;
                    entry.1 += 1;
                    failures.push(format!("{}-{}: {why}", outcome.rule_id, outcome.test_id));
                }
                TestResult::Skipped(_) => skipped += 1,
            }
        }
    }
    if std::env::var_os("FTW_VERBOSE").is_some() {
        for f in &failures {
            println!("FAIL {f}");
        }
    }
    println!("failures by rule file (passed/failed):");
    for (group, (p, f)) in &by_group {
        println!("  {group}: {p}/{f}");
    }
    println!("load errors: {}, judged against ftw-overrides.yaml: {overridden}, skipped by overrides: {skipped}", errors.len());
    println!("crs-regression: {passed} passed, {failed} failed");
    assert!(passed >= FLOOR, "{passed} passed, below the floor of {FLOOR}");
}
