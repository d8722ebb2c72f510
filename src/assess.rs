//! `rampart audit assess`: did any data leave between two times? The log is verified, read
//! once, and the evidence printed with the record IDs that `rampart audit prove` proves.
//!
//! Exit status: 0 no evidence of data leaving, 2 review needed, 3 data left, 1 when the log
//! could not be assessed (it does not verify, or cannot be read).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use rampart_audit::assess::{Assessment, Finding, Settings, Severity, Verdict};
use rampart_audit::{NoteSigner, NoteVerifier};

use crate::assess_time::{format_time, now_ms, parse_time};

/// `rampart audit assess`.
#[derive(Debug, Args)]
pub struct AssessArgs {
    /// The window's start: RFC 3339 (`2026-11-29T15:00:00Z`), a time ago (`-1h`, `-7d`), or `now`.
    #[arg(long, allow_hyphen_values = true)]
    pub from: String,
    /// The window's end (exclusive), in the same forms. Default: now.
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    pub to: String,
    /// The log directory.
    #[arg(long, conflicts_with = "config", required_unless_present = "config")]
    pub dir: Option<PathBuf>,
    /// A configuration whose `[audit]` names the log; its signing key then pins the verifier.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The verifier key or a file holding it (default: from --config's signing key, else the
    /// log's own `verifier-key` file).
    #[arg(long)]
    pub key: Option<String>,
    /// Print the assessment as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run the assessment and turn the verdict into the exit status.
pub fn assess(args: AssessArgs) -> ExitCode {
    match run(&args) {
        Ok(Verdict::NoEvidence) => ExitCode::SUCCESS,
        Ok(Verdict::ReviewNeeded) => ExitCode::from(2),
        Ok(Verdict::DataLeft) => ExitCode::from(3),
        Err(e) => {
            eprintln!("rampart audit assess: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &AssessArgs) -> anyhow::Result<Verdict> {
    let now = now_ms();
    let from = parse_time(&args.from, now).map_err(|e| anyhow::anyhow!("--from {e}"))?;
    let to = parse_time(&args.to, now).map_err(|e| anyhow::anyhow!("--to {e}"))?;
    anyhow::ensure!(from < to, "--from {} is not before --to {}", format_time(from), format_time(to));
    let (dir, verifier, key_source) = log_and_key(args)?;
    let a = rampart_audit::assess::assess(&dir, &verifier, &Settings::new(from, to))
        .with_context(|| format!("the log {} does not verify: not assessed", dir.display()))?;
    if args.json {
        let mut v = serde_json::to_value(&a)?;
        v["verdict_text"] = a.verdict.as_str().into();
        v["dir"] = dir.display().to_string().into();
        v["verifier_key"] = verifier.to_text().into();
        v["from_rfc3339"] = format_time(from).into();
        v["to_rfc3339"] = format_time(to).into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_report(&a, &dir, &verifier, key_source);
    }
    Ok(a.verdict)
}

/// The log directory and the verifier key, with where the key came from.
fn log_and_key(args: &AssessArgs) -> anyhow::Result<(PathBuf, NoteVerifier, &'static str)> {
    let dir = match (&args.dir, &args.config) {
        (Some(dir), _) => dir.clone(),
        (None, Some(config)) => {
            let c = rampart_config::load(config).map_err(|e| anyhow::anyhow!("configuration refused:\n{e}"))?;
            let audit = c.audit.with_context(|| format!("{} has no [audit] section", config.display()))?;
            if args.key.is_none() {
                let text = std::fs::read_to_string(&audit.signing_key)
                    .with_context(|| format!("reading the signing key {}", audit.signing_key.display()))?;
                let signer = NoteSigner::parse(text.trim()).context("the signing key")?;
                return Ok((audit.dir, signer.verifier(), "the configured signing key"));
            }
            audit.dir
        }
        (None, None) => anyhow::bail!("--dir or --config is required"),
    };
    let (v, from_dir) = rampart_audit::verify::resolve_key(&dir, args.key.as_deref())?;
    Ok((dir, v, if from_dir { "the log's own verifier-key file; pass --key to pin it" } else { "--key" }))
}

/// Findings of one kind printed in full before the rest are summed up.
const SHOWN: usize = 20;

fn print_report(a: &Assessment, dir: &Path, v: &NoteVerifier, key_source: &str) {
    println!("rampart audit assess: {} .. {}", format_time(a.from), format_time(a.to));
    let unsigned = a.log_records.saturating_sub(a.checkpoint_size);
    println!(
        "log: {} verified ({} records, the latest checkpoint covers {}{}; key {} from {key_source})",
        dir.display(),
        a.log_records,
        a.checkpoint_size,
        if unsigned > 0 { format!(", {unsigned} after it not signed yet") } else { String::new() },
        v.to_text(),
    );
    let in_window: u64 = a.window_records.values().sum();
    let kinds: Vec<String> = a.window_records.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!("window: {in_window} records ({})", if kinds.is_empty() { "none".into() } else { kinds.join(", ") });
    println!();
    println!("verdict: {}", a.verdict.as_str().to_uppercase());
    for (severity, title) in [(Severity::DataLeft, "data left"), (Severity::Review, "review needed")] {
        let of: Vec<&Finding> = a.findings.iter().filter(|f| f.severity == severity).collect();
        if of.is_empty() {
            continue;
        }
        println!();
        println!("{title} ({}):", of.len());
        let mut kinds: Vec<&str> = of.iter().map(|f| f.kind).collect();
        kinds.dedup();
        for kind in kinds {
            let same: Vec<&&Finding> = of.iter().filter(|f| f.kind == kind).collect();
            for f in same.iter().take(SHOWN) {
                let mark = if f.signed { "" } else { " (not signed yet)" };
                println!("  #{:<8} {}  {}{mark}", f.record, format_time(f.at), f.summary);
            }
            if same.len() > SHOWN {
                println!("  ... and {} more {kind} findings (--json lists every one)", same.len() - SHOWN);
            }
        }
    }
    if !a.egress.is_empty() {
        println!();
        println!("egress of sensitive routes in the window:");
        for e in &a.egress {
            let baseline = if e.baseline_intervals > 0 {
                format!("baseline {:.0} B/min over {} intervals", e.baseline_mean_bytes_per_min, e.baseline_intervals)
            } else {
                "no baseline".to_string()
            };
            println!(
                "  {}: {} requests ({} unverified), {} bytes, {} records; peak {:.0} B/min in {} intervals; {baseline}",
                e.route, e.requests, e.unverified, e.bytes, e.records, e.peak_bytes_per_min, e.intervals
            );
        }
    }
    if !a.notes.is_empty() {
        println!();
        println!("notes:");
        for n in &a.notes {
            println!("  {n}");
        }
    }
    if let Some(f) = a.findings.first() {
        println!();
        println!("prove a record: rampart audit prove {} --dir {} --key '{}'", f.record, dir.display(), v.to_text());
    }
}
