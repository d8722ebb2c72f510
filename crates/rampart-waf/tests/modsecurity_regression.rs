//! ModSecurity v3's own regression cases (`shared/modsecurity-regression/regression/*.json`),
//! those whose expectation is an HTTP status (`http_code`) or a configuration error
//! (`parser_error`). Cases that check debug/error/audit log text, or need a resource we do
//! not have (Lua, libxml2 schemas, GeoIP, curl, ssdeep), are skipped with their reason.
//! Prints `modsecurity-regression: N passed, M failed, K skipped` and asserts a floor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_waf::ftw::crs;
use rampart_waf::Engine;
use serde_json::Value;

/// Passing cases required (raise as the engine improves).
const FLOOR: usize = 219;

enum Outcome {
    Passed,
    Failed(String),
    Skipped(&'static str),
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

fn lines(v: Option<&Value>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(Value::Array(items)) = v {
        for l in items.iter().filter_map(Value::as_str) {
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(b"\n");
        }
    }
    out
}

fn headers(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect(),
        _ => Vec::new(),
    }
}

fn run_case(case: &Value, data_dir: &Path, file_dir: &Path) -> Outcome {
    if case.get("enabled").and_then(Value::as_i64) == Some(0) {
        return Outcome::Skipped("disabled in the suite");
    }
    if case.get("resource").is_some() {
        return Outcome::Skipped("needs an optional resource (lua, libxml2, geoip, curl, ssdeep)");
    }
    let expected = case.get("expected").cloned().unwrap_or(Value::Null);
    let http_code = expected.get("http_code").and_then(Value::as_u64);
    let parser_error = expected.get("parser_error").is_some();
    if http_code.is_none() && !parser_error {
        return Outcome::Skipped("expects debug/error/audit log text");
    }
    let data_prefix = format!("{}/", data_dir.display());
    let rules: Vec<String> = match case.get("rules") {
        Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).map(|l| l.replace("test-cases/data/", &data_prefix)).collect(),
        _ => Vec::new(),
    };
    let loaded = Engine::from_str(&rules.join("\n"), Some(file_dir));
    if parser_error {
        return match loaded {
            Err(_) => Outcome::Passed,
            Ok(_) => Outcome::Failed("expected a configuration error, loaded fine".into()),
        };
    }
    let engine = match loaded {
        Ok(e) => Arc::new(e),
        Err(e) => return Outcome::Failed(format!("load error: {e}")),
    };
    let expected_code = http_code.unwrap_or(200) as u16;
    let req = case.get("request").cloned().unwrap_or(Value::Null);
    let client = case.get("client").cloned().unwrap_or(Value::Null);
    let server = case.get("server").cloned().unwrap_or(Value::Null);
    let mut tx = engine.transaction();
    let port = |v: &Value| v.get("port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
    tx.process_connection(
        &text(client.get("ip")).unwrap_or_else(|| "127.0.0.1".into()),
        port(&client),
        &text(server.get("ip")).unwrap_or_else(|| "127.0.0.1".into()),
        port(&server),
    );
    let version = text(req.get("http_version")).unwrap_or_else(|| "1.1".into());
    tx.process_uri(
        &text(req.get("uri")).unwrap_or_else(|| "/".into()),
        &text(req.get("method")).unwrap_or_else(|| "GET".into()),
        &format!("HTTP/{version}"),
    );
    for (k, v) in headers(req.get("headers")) {
        tx.add_request_header(&k, v);
    }
    let mut status = tx.process_request_headers().map(|i| i.status);
    if status.is_none() {
        tx.append_request_body(&lines(req.get("body")));
        status = tx.process_request_body().map(|i| i.status);
    }
    if status.is_none() {
        let resp = case.get("response").cloned().unwrap_or(Value::Null);
        for (k, v) in headers(resp.get("headers")) {
            tx.add_response_header(&k, v);
        }
        let protocol = text(resp.get("protocol")).unwrap_or_else(|| "HTTP/1.1".into());
        status = tx.process_response_headers(200, &protocol).map(|i| i.status);
        if status.is_none() {
            tx.append_response_body(&lines(resp.get("body")));
            status = tx.process_response_body().map(|i| i.status);
        }
    }
    tx.process_logging();
    let got = status.unwrap_or(200);
    if got == expected_code {
        Outcome::Passed
    } else {
        let ids: Vec<u64> = tx.matched_rules().iter().map(|r| r.id).collect();
        Outcome::Failed(format!("status {got}, expected {expected_code} (matched {ids:?})"))
    }
}

#[test]
fn modsecurity_regression_cases() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = crs::shared_dir(manifest).join("modsecurity-regression");
    let dir = root.join("regression");
    let data_dir = root.join("data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("modsecurity-regression/regression")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut skipped: BTreeMap<&'static str, usize> = BTreeMap::new();
    let verbose = std::env::var_os("MSR_VERBOSE").is_some();
    for path in files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(&path) else {
            *skipped.entry("unreadable file").or_default() += 1;
            continue;
        };
        let Ok(Value::Array(cases)) = serde_json::from_str::<Value>(&text) else {
            *skipped.entry("not a JSON array of cases").or_default() += 1;
            continue;
        };
        for (i, case) in cases.iter().enumerate() {
            let outcome = std::panic::catch_unwind(|| run_case(case, &data_dir, &dir))
                .unwrap_or_else(|_| Outcome::Failed("panicked".into()));
            match outcome {
                Outcome::Passed => passed += 1,
                Outcome::Failed(why) => {
                    failed += 1;
                    if verbose {
                        let title = case.get("title").and_then(Value::as_str).unwrap_or("");
                        println!("FAIL {name}#{i} ({title}): {why}");
                    }
                }
                Outcome::Skipped(reason) => *skipped.entry(reason).or_default() += 1,
            }
        }
    }
    let total_skipped: usize = skipped.values().sum();
    let reasons: Vec<String> = skipped.iter().map(|(reason, n)| format!("{n}: {reason}")).collect();
    println!("modsecurity-regression: {passed} passed, {failed} failed, {total_skipped} skipped ({})", reasons.join("; "));
    assert!(passed >= FLOOR, "{passed} passed, below the floor of {FLOOR}");
}
