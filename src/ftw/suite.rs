//! The suite loop of the proxy runner: `rampart_waf::ftw::suite::run_suite`'s, with one
//! addition: a transport problem (a request that could not be built from the test file, or
//! that got no response) is appended to the failure it caused, so that a broken or hostile
//! test file says what is wrong with it instead of `status 0 not in …`.

use std::path::Path;

use rampart_waf::ftw::judge::Observed;
use rampart_waf::ftw::model::{read_test_file, Stage};
use rampart_waf::ftw::overrides::Overrides;
use rampart_waf::ftw::suite::{run_test_with, test_files, Summary, TestResult};

/// What one stage produced: the observation, and what went wrong on the way, if anything.
pub type Exchange = (Observed, Option<String>);

/// Run every `*.yaml` test under `dir` (only paths containing `filter`, when given).
pub fn run(dir: &Path, overrides: &Overrides, filter: Option<&str>, execute: &mut dyn FnMut(&Stage) -> Exchange) -> Summary {
    let mut summary = Summary::default();
    for path in test_files(dir) {
        if filter.is_some_and(|f| !path.to_string_lossy().contains(f)) {
            continue;
        }
        let group = path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let file = match read_test_file(&path) {
            Ok(f) => f,
            Err(e) => {
                summary.failed += 1;
                summary.failures.push(format!("unreadable: {e}"));
                continue;
            }
        };
        for test in &file.tests {
            let mut notes: Vec<String> = Vec::new();
            let mut observe = |stage: &Stage| {
                let (observed, note) = execute(stage);
                notes.extend(note);
                observed
            };
            let outcome = run_test_with(&mut observe, file.rule_id, test, &group, overrides);
            let entry = summary.by_group.entry(group.clone()).or_default();
            summary.overridden += usize::from(outcome.overridden);
            match outcome.result {
                TestResult::Passed => {
                    summary.passed += 1;
                    entry.0 += 1;
                }
                TestResult::Failed(why) => {
                    summary.failed += 1;
                    entry.1 += 1;
                    let notes = if notes.is_empty() { String::new() } else { format!(" [{}]", notes.join("; ")) };
                    summary.failures.push(format!("{}-{}: {why}{notes}", outcome.rule_id, outcome.test_id));
                }
                TestResult::Skipped(_) => summary.skipped += 1,
            }
        }
    }
    summary
}
