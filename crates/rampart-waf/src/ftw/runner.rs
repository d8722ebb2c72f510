//! Running go-ftw tests in process: each stage becomes a [`crate::Transaction`] on an engine
//! configured as CRS's own CI configures ModSecurity (`tests/docker-compose.yml`:
//! `DetectionOnly`, blocking paranoia level 4, argument and file limits, response body
//! inspection), with an emulated backend (go-ftw's `albedo`: `/reflect` answers what the
//! request's JSON body asks for).

use std::path::Path;
use std::sync::Arc;

use super::judge::Observed;
use super::model::{Stage, Test, TestFile};
use super::overrides::Overrides;
pub use super::suite::{run_test_with, test_files, TestOutcome, TestResult};
use super::request::{self, RawRequest};
use crate::compile::Builder;
use crate::engine::Engine;
use crate::error::LoadError;

/// Settings loaded before the CRS, mirroring the CRS CI container (modsecurity.conf's
/// body-processor rules 200000/200001 and the `900005` test setup from
/// `tests/regression/README.md` with the values of `tests/docker-compose.yml`).
pub const REGRESSION_SETUP: &str = r#"
SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml application/json
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecArgumentSeparator &
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" \
    "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" \
    "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
"#;

/// The `900005` test-setup action (after `crs-setup.conf`, before the rules).
pub const TEST_SETUP_ACTION: &str = r#"
SecAction "id:900005,phase:1,nolog,pass,ctl:ruleEngine=DetectionOnly,ctl:ruleRemoveById=910000,\
  setvar:tx.blocking_paranoia_level=4,setvar:tx.crs_validate_utf8_encoding=1,setvar:tx.arg_name_length=100,\
  setvar:tx.arg_length=400,setvar:tx.total_arg_length=6400,setvar:tx.max_num_args=255,\
  setvar:tx.max_file_size=64100,setvar:tx.combined_file_sizes=65535"
"#;

/// Build the engine CRS's regression tests expect from a CRS directory. Rules that fail to
/// load are left out and returned as errors beside the builder.
pub fn regression_engine(crs_dir: &Path) -> Result<(Builder, Vec<LoadError>), LoadError> {
    let mut b = Builder::new();
    b.load_str(REGRESSION_SETUP, Some(crs_dir))?;
    let files = super::crs::crs_files(crs_dir).map_err(|source| LoadError::Io {
        location: crate::error::Location::new(Default::default(), 0),
        path: crs_dir.to_path_buf(),
        source,
    })?;
    let mut files = files.into_iter();
    if let Some(setup) = files.next() {
        b.load_file(&setup)?;
    }
    b.load_str(TEST_SETUP_ACTION, Some(crs_dir))?;
    let mut errors = Vec::new();
    for f in files {
        errors.extend(b.load_file_collect(&f));
    }
    Ok((b, errors))
}

/// Run one stage: parse the request, drive a transaction, emulate the backend.
pub fn run_stage(engine: &Arc<Engine>, stage: &Stage) -> Observed {
    let parsed = request::build(&stage.input).and_then(|bytes| request::parse(&bytes));
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return Observed { status: 400, log: e.to_string(), ..Observed::default() },
    };
    let port = stage.input.port.unwrap_or(80);
    let dest = stage.input.dest_addr.clone().unwrap_or_else(|| "127.0.0.1".into());
    run_request(engine, &req, &dest, port)
}

/// Drive a transaction with a parsed request and the emulated backend.
pub fn run_request(engine: &Arc<Engine>, req: &RawRequest, dest: &str, port: u16) -> Observed {
    let mut tx = engine.transaction();
    tx.process_connection("127.0.0.1", 40000, dest, port);
    tx.process_uri(&req.uri, &req.method, &req.version);
    for (k, v) in &req.headers {
        tx.add_request_header(k, v);
    }
    let mut status = None;
    if let Some(i) = tx.process_request_headers() {
        status = Some(i.status);
    }
    if status.is_none() {
        tx.append_request_body(&req.body);
        status = tx.process_request_body().map(|i| i.status);
    }
    let mut body = String::new();
    if status.is_none() {
        let (code, headers, resp) = backend(req);
        for (k, v) in &headers {
            tx.add_response_header(k, v);
        }
        status = tx.process_response_headers(code, "HTTP/1.1").map(|i| i.status);
        if status.is_none() {
            tx.append_response_body(resp.as_bytes());
            status = tx.process_response_body().map(|i| i.status);
        }
        body = resp;
        status = status.or(Some(code));
    }
    tx.process_logging();
    let logged: Vec<_> = tx.matched_rules().iter().filter(|r| r.log).collect();
    let mut log: Vec<String> = Vec::new();
    // ModSecurity writes body processor failures to the error log; some tests accept them.
    if let Some((processor, msg)) = tx.request_body_error() {
        let name = match processor {
            "MULTIPART" => "Multipart",
            other => other,
        };
        log.push(format!("ModSecurity: {name} parsing error: {msg}"));
    }
    log.extend(logged.iter().map(|r| r.log_line()));
    Observed {
        logged_ids: logged.iter().map(|r| r.id).collect(),
        log: log.join("\n"),
        status: status.unwrap_or(200),
        error: false,
        response_body: body,
    }
}

/// go-ftw's backend: `/reflect` answers with the status, headers and body its JSON asks for;
/// anything else is a 200 with an empty text body.
fn backend(req: &RawRequest) -> (u16, Vec<(String, String)>, String) {
    if req.uri.starts_with("/reflect") {
        if let Ok(serde_json::Value::Object(spec)) = serde_json::from_slice::<serde_json::Value>(&req.body) {
            let status = spec.get("status").and_then(|s| s.as_u64()).and_then(|s| u16::try_from(s).ok()).unwrap_or(200);
            let mut body = spec.get("body").and_then(|b| b.as_str()).unwrap_or_default().to_string();
            if let Some(enc) = spec.get("encodedBody").and_then(|b| b.as_str()) {
                body = super::base64::decode(enc).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
            }
            let mut headers: Vec<(String, String)> = spec
                .get("headers")
                .and_then(|h| h.as_object())
                .map(|h| h.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                .unwrap_or_default();
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                let sniffed = if body.trim_start().starts_with('<') { "text/html; charset=utf-8" } else { "text/plain; charset=utf-8" };
                headers.push(("Content-Type".into(), sniffed.into()));
            }
            return (status, headers, body);
        }
    }
    (200, vec![("Content-Type".into(), "text/plain; charset=utf-8".into())], String::new())
}

/// Run every test of a file in process.
pub fn run_file(engine: &Arc<Engine>, file: &TestFile, group: &str, overrides: &Overrides) -> Vec<TestOutcome> {
    let mut exec = |stage: &Stage| run_stage(engine, stage);
    file.tests.iter().map(|t| run_test_with(&mut exec, file.rule_id, t, group, overrides)).collect()
}

/// Run one test in process (all its stages).
pub fn run_test(engine: &Arc<Engine>, rule_id: u64, test: &Test, group: &str, overrides: &Overrides) -> TestOutcome {
    run_test_with(&mut |stage: &Stage| run_stage(engine, stage), rule_id, test, group, overrides)
}
