//! Running go-ftw tests with any executor: in process ([`super::runner`]) or through a real
//! proxy (the `rampart waf ftw` command), which only has to turn a [`Stage`] into an
//! [`Observed`] (send the request, collect the rule ids the WAF logged for it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::judge::{judge, Observed};
use super::model::{read_test_file, Stage, Test};
use super::overrides::Overrides;

/// The result of one test.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// The rule the test file targets.
    pub rule_id: u64,
    /// The test's number.
    pub test_id: u32,
    /// The directory of the YAML file (the CRS rule file it belongs to).
    pub group: String,
    /// Pass, failure reasons, or skipped with a reason.
    pub result: TestResult,
    /// Whether an override replaced the expected output.
    pub overridden: bool,
}

/// Outcome of a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestResult {
    /// Every stage met its expectation.
    Passed,
    /// Why it failed.
    Failed(String),
    /// Not run, and why.
    Skipped(String),
}

/// Run one test (all its stages) with `execute`, judging against the override if any.
pub fn run_test_with(
    execute: &mut dyn FnMut(&Stage) -> Observed,
    rule_id: u64,
    test: &Test,
    group: &str,
    overrides: &Overrides,
) -> TestOutcome {
    let over = overrides.find(rule_id, test.test_id);
    let result = match over {
        Some(o) if o.output.is_none() => TestResult::Skipped(o.reason.clone()),
        _ => {
            let mut result = TestResult::Passed;
            for (i, stage) in test.stages.iter().enumerate() {
                let observed = execute(stage);
                let expected = over.and_then(|o| o.output.as_ref()).unwrap_or(&stage.output);
                if let Err(why) = judge(expected, &observed) {
                    result = TestResult::Failed(format!("stage {}: {why} (logged {:?})", i + 1, observed.logged_ids));
                    break;
                }
            }
            result
        }
    };
    let overridden = over.is_some_and(|o| o.output.is_some());
    TestOutcome { rule_id, test_id: test.test_id, group: group.to_string(), result, overridden }
}

/// Counts over a run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed (including unreadable files).
    pub failed: usize,
    /// Tests skipped by an override.
    pub skipped: usize,
    /// Tests judged against an override's output.
    pub overridden: usize,
    /// (passed, failed) per group (the CRS rule file a test belongs to).
    pub by_group: BTreeMap<String, (usize, usize)>,
    /// `rule-test: reason` for every failure.
    pub failures: Vec<String>,
}

/// Run every `*.yaml` test under `dir` (optionally only paths containing `filter`).
pub fn run_suite(dir: &Path, overrides: &Overrides, filter: Option<&str>, execute: &mut dyn FnMut(&Stage) -> Observed) -> Summary {
    run_suite_noted(dir, overrides, filter, &mut |stage| (execute(stage), None))
}

/// [`run_suite`] for executors that can also say what went wrong on the way (a request that
/// could not be built from the test file, no response): each note is appended to the failure
/// of the test it belongs to, so a broken or hostile test file says what is wrong with it.
pub fn run_suite_noted(
    dir: &Path,
    overrides: &Overrides,
    filter: Option<&str>,
    execute: &mut dyn FnMut(&Stage) -> (Observed, Option<String>),
) -> Summary {
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

/// Every `*.yaml` / `*.yml` under `dir`, sorted.
pub fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
