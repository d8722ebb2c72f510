//! `rampart waf ftw`: the CRS regression suite (go-ftw YAML) through the real proxy.
//!
//! In process: an albedo-like backend ([`backend`]), the shield in front of it with the WAF
//! stage running the CRS as CRS's CI configures it ([`shield`]), and a `tracing` layer that
//! keeps what the WAF logged per request id ([`capture`]). Each test stage's request goes out
//! as raw bytes over TCP ([`client`]); the status, the `x-request-id` and the rule ids logged
//! for that id make the stage's [`Observed`], judged by `rampart_waf::ftw` as the in-process
//! runner's is.
//!
//! Differences from the in-process figure are the proxy path's, and worth knowing:
//! * hyper answers 400 before any stage runs for a request target with a raw `<` or `>`, a `"`
//!   in the query or a backtick in the path (the `http` crate's URI grammar), for a target that
//!   is a backslash, for versions other than HTTP/1.0 and 1.1 (HTTP/0.9, HTTP/4.0) and for a
//!   bare CR in a header value. A test that expects the WAF to log such a request fails; one
//!   that expects httpd's 400 passes;
//! * the proxy refuses a request with both `Content-Length` and `Transfer-Encoding` (the
//!   smuggling shape) with 400, where httpd drops the `Content-Length` and CRS logs 920181;
//! * the WAF sees the request as hyper parsed it: no `#fragment`, an absolute-form or
//!   authority-form target reduced to its path, header names in lower case;
//! * the stage logs matched rules only, not body-processor errors (`Multipart parsing error`).

mod backend;
mod capture;
mod client;
mod shield;

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rampart_waf::ftw::judge::Observed;
use rampart_waf::ftw::model::Stage;
use rampart_waf::ftw::overrides::Overrides;
use rampart_waf::ftw::suite::Summary;
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::cli::FtwArgs;
use capture::WafLog;

/// How long one exchange may take. Longer than the proxy's own header and body timeouts, so
/// that a request the proxy waits on (a body shorter than its Content-Length) gets the proxy's
/// answer rather than a client-side timeout.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of each request `--trace` shows.
const TRACE_BYTES: usize = 300;

/// Run the command: exit 0 when every test passed, 1 when any failed or the run could not start.
pub fn ftw(args: FtwArgs) -> ExitCode {
    match run(&args) {
        Ok(summary) if summary.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rampart: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &FtwArgs) -> anyhow::Result<Summary> {
    check_dir(&args.rules.join("rules"), "--rules: not a CRS directory (no rules/)")?;
    check_dir(&args.tests, "--tests")?;
    let overrides = match &args.overrides {
        Some(path) => Overrides::read(path).map_err(|e| anyhow::anyhow!("--overrides: {e}"))?,
        None => Overrides::default(),
    };
    let waf_log = install_logging()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let shield = runtime.block_on(async {
        let backend = backend::start().await?;
        shield::start(&args.rules, backend).await
    })?;
    for e in &shield.load_errors {
        eprintln!("load error (rule left out): {e}");
    }
    eprintln!("ftw: {} rules loaded, proxy on {}", shield.rules, shield.addr);

    // The suite runs on this thread with blocking sockets; the proxy and the backend run on the
    // runtime's workers. Test stages go out one at a time, as go-ftw sends them.
    let started = Instant::now();
    let mut stages = 0usize;
    let mut execute = |stage: &Stage| {
        stages += 1;
        observe(shield.addr, stage, &waf_log, args.trace)
    };
    let summary = rampart_waf::ftw::suite::run_suite_noted(&args.tests, &overrides, args.filter.as_deref(), &mut execute);
    let elapsed = started.elapsed();

    for failure in &summary.failures {
        println!("FAIL {failure}");
    }
    eprintln!("ftw: {stages} stages in {:.1} s", elapsed.as_secs_f64());
    println!("skipped: {}, overridden: {}", summary.skipped, summary.overridden);
    println!("{} passed, {} failed", summary.passed, summary.failed);
    drop(shield);
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(summary)
}

/// Send one stage's request through the proxy and gather what the client and the WAF saw, with
/// a note when the request could not be built or got no response.
fn observe(addr: std::net::SocketAddr, stage: &Stage, waf_log: &WafLog, trace: bool) -> (Observed, Option<String>) {
    waf_log.clear();
    // The test's `dest_addr` and `port` are ignored on purpose: every request goes to our own
    // listener on 127.0.0.1, whatever a test file names.
    let bytes = match rampart_waf::ftw::request::build(&stage.input) {
        Ok(b) => b,
        Err(e) => return (Observed { error: true, ..Observed::default() }, Some(format!("request not built: {e}"))),
    };
    let result = client::exchange(addr, &bytes, EXCHANGE_TIMEOUT);
    if trace {
        let sent = String::from_utf8_lossy(&bytes[..bytes.len().min(TRACE_BYTES)]);
        match &result {
            Ok(r) => eprintln!("trace: {sent:?} -> {} (x-request-id {:?})", r.status, r.request_id),
            Err(e) => eprintln!("trace: {sent:?} -> {e}"),
        }
    }
    match result {
        Ok(resp) => {
            let rules = resp.request_id.as_deref().map(|id| waf_log.take(id)).unwrap_or_default();
            let log: Vec<String> = rules.iter().map(capture::LoggedRule::log_line).collect();
            if trace {
                log.iter().for_each(|line| eprintln!("trace:   {line}"));
            }
            let observed = Observed {
                logged_ids: rules.iter().map(|r| r.id).collect(),
                log: log.join("\n"),
                status: resp.status,
                error: false,
                response_body: String::from_utf8_lossy(&resp.body).into_owned(),
            };
            (observed, None)
        }
        // No response at all (the connection closed or timed out): go-ftw's "HTTP-level error".
        Err(e) => (Observed { error: true, ..Observed::default() }, Some(format!("no response: {e}"))),
    }
}

/// The capture layer for the WAF's events, and warnings from everything else on stderr (stdout
/// carries the failures and the summary).
fn install_logging() -> anyhow::Result<WafLog> {
    let waf_log = WafLog::default();
    let warnings = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_filter(filter_fn(|m| *m.level() <= LevelFilter::WARN && m.target() != capture::WAF_TARGET));
    tracing_subscriber::registry()
        .with(waf_log.clone().with_filter(filter_fn(|m| m.target() == capture::WAF_TARGET)))
        .with(warnings)
        .try_init()
        .context("cannot install the log capture")?;
    Ok(waf_log)
}

fn check_dir(path: &Path, what: &str) -> anyhow::Result<()> {
    if !path.is_dir() {
        bail!("{what}: {} is not a directory", path.display());
    }
    Ok(())
}
