//! `rampart audit …`: key generation, verification, inclusion proofs, the breach assessment
//! ([`crate::assess`]); and the event sink that `rampart run` uses when `[audit]` is configured.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use rampart_audit::{AuditLog, AuditSink, ConsistencyProof, InclusionProof, NoteSigner, NoteVerifier, Options, Retention};
use rampart_core::{Event, EventSink};

use crate::wiring::Plan;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Generate an Ed25519 signing key for checkpoints: writes the private key (mode 0600) to
    /// --out and the verifier key to --out.pub, and prints the verifier key.
    Keygen {
        /// Where to write the private key (refused if it exists).
        #[arg(long)]
        out: PathBuf,
        /// The key name, which is also the checkpoints' origin line.
        #[arg(long, default_value = "rampart-audit")]
        name: String,
    },
    /// Check a log directory: every checkpoint signature, every record, the rebuilt tree
    /// against every checkpoint. Exit 0 with a summary, or 1 naming the first bad record.
    Verify {
        /// The log directory (`[audit] dir`).
        dir: PathBuf,
        /// A checkpoint held elsewhere (from a report, a witness) to hold the log to as well.
        #[arg(long)]
        checkpoint: Vec<PathBuf>,
        /// The verifier key (`name+id+base64`) or a file holding it. Default: the log's own
        /// `verifier-key` file, which whoever can rewrite the log can rewrite too.
        #[arg(long)]
        key: Option<String>,
    },
    /// Print the inclusion proof of record ID against the latest checkpoint, as JSON.
    Prove {
        /// The record's ID (its index in the log).
        id: u64,
        /// The log directory.
        #[arg(long)]
        dir: PathBuf,
        /// The verifier key or a file holding it (default: the log's `verifier-key`).
        #[arg(long)]
        key: Option<String>,
    },
    /// Print the proof that the latest checkpoint extends an older one you hold, as JSON.
    ProveConsistency {
        /// The older checkpoint (from a report, a witness, an earlier copy).
        #[arg(long)]
        from: PathBuf,
        /// The log directory.
        #[arg(long)]
        dir: PathBuf,
        /// The verifier key or a file holding it (default: the log's `verifier-key`).
        #[arg(long)]
        key: Option<String>,
    },
    /// Check a proof written by `prove` or `prove-consistency`, offline.
    CheckProof {
        /// The proof (JSON).
        file: PathBuf,
        /// The verifier key you trust, or a file holding it. Default: the key in the proof.
        #[arg(long)]
        key: Option<String>,
    },
    /// Did any data leave between --from and --to? Verifies the log, then lists every 2xx to a
    /// request that matched an attack rule, every sensitive-route access by an unverified
    /// identity, exfiltration alerts, and egress per route against its baseline, with the
    /// verdict and the record IDs behind it. Exit 0: no evidence of data leaving; 2: review
    /// needed; 3: data left; 1: the log could not be assessed (it does not verify).
    Assess(crate::assess::AssessArgs),
    /// Append records from many threads as fast as group commit allows (tests and benches).
    #[command(hide = true)]
    Stress(crate::audit_stress::StressArgs),
}

pub fn main(command: AuditCommand) -> ExitCode {
    let result = match command {
        AuditCommand::Assess(args) => return crate::assess::assess(args),
        AuditCommand::Keygen { out, name } => keygen(&out, &name),
        AuditCommand::Verify { dir, checkpoint, key } => verify(&dir, &checkpoint, key.as_deref()),
        AuditCommand::Prove { id, dir, key } => prove(id, &dir, key.as_deref()),
        AuditCommand::ProveConsistency { from, dir, key } => prove_consistency(&from, &dir, key.as_deref()),
        AuditCommand::CheckProof { file, key } => check_proof(&file, key.as_deref()),
        AuditCommand::Stress(args) => crate::audit_stress::stress(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart audit: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Make the signing key `key` (and `key.pub`) unless it exists; true when it was made. A log
/// in `dir` signed by a key that is gone is moved aside first, since it can never be extended.
pub fn ensure_key(key: &Path, dir: &Path, name: &str) -> anyhow::Result<bool> {
    if key.exists() {
        return Ok(false);
    }
    if let Some(parent) = key.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    if dir.exists() {
        let aside = dir.with_file_name(format!("audit-without-key-{}", rampart_audit::record::unix_ms(std::time::SystemTime::now())));
        std::fs::rename(dir, &aside).with_context(|| format!("moving {} aside", dir.display()))?;
        eprintln!("the signing key of {} is gone: that log was moved to {}", dir.display(), aside.display());
    }
    keygen_quiet(key, name)?;
    Ok(true)
}

fn keygen(out: &Path, name: &str) -> anyhow::Result<()> {
    println!("{}", keygen_quiet(out, name)?);
    Ok(())
}

/// Write a new key pair; return the verifier key.
fn keygen_quiet(out: &Path, name: &str) -> anyhow::Result<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let signer = NoteSigner::generate(name).context("key name")?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("creating {}", out.display()))?;
    writeln!(f, "{}", signer.to_text()).and_then(|_| f.sync_all()).with_context(|| format!("writing {}", out.display()))?;
    let vkey = signer.verifier().to_text();
    let public = PathBuf::from(format!("{}.pub", out.display()));
    std::fs::write(&public, format!("{vkey}\n")).with_context(|| format!("writing {}", public.display()))?;
    Ok(vkey)
}

fn verifier(dir: &Path, key: Option<&str>) -> anyhow::Result<(NoteVerifier, &'static str)> {
    let (v, from_dir) = rampart_audit::verify::resolve_key(dir, key)?;
    Ok((v, if from_dir { "the log's own verifier-key file; pass --key to pin it" } else { "--key" }))
}

fn verify(dir: &Path, extra: &[PathBuf], key: Option<&str>) -> anyhow::Result<()> {
    let (v, source) = verifier(dir, key)?;
    let report = rampart_audit::verify(dir, &v, extra, false).context("verification FAILED")?;
    let latest = match &report.latest {
        Some(e) => format!("latest checkpoint: tree size {} ({})", e.checkpoint.size, e.path.display()),
        None => "no checkpoint".into(),
    };
    let removed = match report.start {
        0 => String::new(),
        n => format!("; records 0..{n} were removed by retention (the base file stands in for them)"),
    };
    let torn = match &report.torn {
        Some(t) => format!("; {t}, after the latest checkpoint: cut off at the next start"),
        None => String::new(),
    };
    println!(
        "ok: {} records in {} segments, {} checkpoints signed by {} (key from {source}); {latest}{removed}{torn}",
        report.records,
        report.segments,
        report.checkpoints + extra.len(),
        v.to_text(),
    );
    Ok(())
}

fn prove(id: u64, dir: &Path, key: Option<&str>) -> anyhow::Result<()> {
    let (v, _) = verifier(dir, key)?;
    let proof = rampart_audit::inclusion::prove(dir, &v, id)?;
    println!("{}", serde_json::to_string_pretty(&proof)?);
    Ok(())
}

fn prove_consistency(from: &Path, dir: &Path, key: Option<&str>) -> anyhow::Result<()> {
    let (v, _) = verifier(dir, key)?;
    let proof = rampart_audit::inclusion::prove_consistency(dir, &v, from)?;
    println!("{}", serde_json::to_string_pretty(&proof)?);
    Ok(())
}

fn check_proof(file: &Path, key: Option<&str>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let pick = |embedded: &str| -> anyhow::Result<(NoteVerifier, &'static str)> {
        Ok(match key {
            Some(k) => (verifier(Path::new("."), Some(k))?.0, "--key"),
            None => (NoteVerifier::parse(embedded).context("the proof's verifier_key")?, "the proof itself: compare it with the key you trust"),
        })
    };
    if let Ok(proof) = serde_json::from_str::<ConsistencyProof>(&text) {
        let (v, source) = pick(&proof.verifier_key)?;
        let (old, new) = proof.check(&v).context("proof FAILED")?;
        println!("ok: the tree of size {} extends the tree of size {}, both signed by {} (key from {source})", new.size, old.size, v.to_text());
        return Ok(());
    }
    let proof: InclusionProof = serde_json::from_str(&text).with_context(|| format!("{} is not a proof", file.display()))?;
    let (v, source) = pick(&proof.verifier_key)?;
    let cp = proof.check(&v).context("proof FAILED")?;
    println!(
        "ok: record {} is in the tree of size {} signed by {} (key from {source})",
        proof.leaf_index,
        cp.size,
        v.to_text()
    );
    Ok(())
}

/// Every event to the JSON log and, when `[audit]` is configured, to the audit log.
pub fn event_sink(plan: &Plan) -> anyhow::Result<Arc<dyn EventSink>> {
    let log_sink: Arc<dyn EventSink> = Arc::new(crate::run::LogSink);
    let Some(audit) = &plan.config.audit else { return Ok(log_sink) };
    let mut options = Options::new(&audit.dir, &audit.signing_key);
    options.checkpoint_interval = audit.checkpoint_interval;
    options.segment_max_bytes = audit.segment_size;
    options.retention = Retention { max_bytes: audit.retention_size, max_age: audit.retention_age };
    let log = AuditLog::open(options).with_context(|| format!("opening the audit log {}", audit.dir.display()))?;
    tracing::info!(target: "rampart::audit", dir = %audit.dir.display(), records = log.opened().records, key = log.verifier_key(), "audit log open");
    let sink: Arc<dyn EventSink> = Arc::new(AuditSink::with_egress_interval(Arc::new(log), audit.egress_interval));
    let _ = OPEN.set(Arc::downgrade(&sink));
    Ok(Arc::new(FanOut(vec![log_sink, sink])))
}

/// The audit sink [`event_sink`] opened, for [`stage_sink`]. Held weakly: the proxy owns it, and
/// its drop at shutdown writes the last egress interval.
static OPEN: std::sync::OnceLock<std::sync::Weak<dyn EventSink>> = std::sync::OnceLock::new();

/// The sink the stages report to: the JSON log, and the audit log once [`event_sink`] has opened
/// it. Stages are built (and rebuilt on every reload) before and apart from the proxy's sink,
/// but their own events — the flood detector's mode changes, the guards' detections, automatic
/// bans — belong on the record as much as the proxy's.
pub fn stage_sink() -> Arc<dyn EventSink> {
    Arc::new(FanOut(vec![Arc::new(crate::run::LogSink), Arc::new(StageAudit)]))
}

/// Hands an event to the audit sink, if one is open.
struct StageAudit;

impl EventSink for StageAudit {
    fn emit(&self, event: Event) {
        if let Some(sink) = OPEN.get().and_then(std::sync::Weak::upgrade) {
            sink.emit(event);
        }
    }
}

/// Hands each event to several sinks in turn.
struct FanOut(Vec<Arc<dyn EventSink>>);

impl EventSink for FanOut {
    fn emit(&self, event: Event) {
        if let Some((last, rest)) = self.0.split_last() {
            for sink in rest {
                sink.emit(event.clone());
            }
            last.emit(event);
        }
    }
}
