//! The incident tracker of this process (built from `[incident]`), its place in the event
//! fan-out and the pipeline, its timer; and `rampart report` / `rampart incidents`.
//!
//! One tracker lives as long as the process, like the flood defence's mode
//! (`crate::defence`): a reload in the middle of an attack must not close the open incident or
//! forget the calm baseline it is compared with. A reload that changes `[incident]` gives the
//! same tracker new settings; one that removes the section turns it off.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use rampart_config::Config;
use rampart_core::{Event, EventSink, Stage};
use rampart_incident::{Incident, Reporter, Settings, Store, Tlp, Tracker};

/// How often the tracker's timer runs (closing calm incidents, writing files).
const TICK: Duration = Duration::from_millis(250);

static TRACKER: OnceLock<Arc<Tracker>> = OnceLock::new();
/// False when the running configuration has no `[incident]` (events are then not followed).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The tracker's settings from `config`, `None` without `[incident]`.
pub fn settings(config: &Config) -> Option<Settings> {
    let i = config.incident.as_ref()?;
    let reporter = Reporter {
        organisation: i.organisation.clone(),
        contact: i.contact.clone(),
        reporter: i.reporter.clone(),
        location: i.location.clone(),
        tlp: match i.tlp {
            rampart_config::Tlp::Clear => Tlp::Clear,
            rampart_config::Tlp::Green => Tlp::Green,
            rampart_config::Tlp::Amber => Tlp::Amber,
            rampart_config::Tlp::Red => Tlp::Red,
        },
        notified: i.notified.clone(),
        audit_dir: config.audit.as_ref().map(|a| a.dir.display().to_string()),
    };
    Some(Settings {
        dir: Some(i.dir.clone()),
        calm_after: i.calm_after,
        waf_threshold: i.waf_threshold.per_second(),
        top_k: i.top_k as usize,
        reporter,
    })
}

/// The process's tracker with `config`'s settings, or `None` (and the tracker, if any, off)
/// when `config` has no `[incident]`.
pub fn tracker(config: &Config) -> Option<Arc<Tracker>> {
    let Some(settings) = settings(config) else {
        ENABLED.store(false, Ordering::Relaxed);
        return None;
    };
    let tracker = Arc::clone(TRACKER.get_or_init(|| Arc::new(Tracker::new(settings.clone()))));
    if tracker.settings() != settings {
        tracker.reconfigure(settings);
    }
    ENABLED.store(true, Ordering::Relaxed);
    Some(tracker)
}

/// The tracker as the pipeline's last stage (logging hook only), when `[incident]` is on.
pub fn stage(config: &Config) -> Option<Arc<dyn Stage>> {
    tracker(config).map(|t| t as Arc<dyn Stage>)
}

/// `sink`, and the tracker beside it. The tracker is looked up at each event, so sinks built
/// before a reload that turns incidents on (the flood detector keeps its own) still feed it.
pub fn wrap(sink: Arc<dyn EventSink>) -> Arc<dyn EventSink> {
    Arc::new(WithTracker(sink))
}

struct WithTracker(Arc<dyn EventSink>);

impl EventSink for WithTracker {
    fn emit(&self, event: Event) {
        match TRACKER.get().filter(|_| ENABLED.load(Ordering::Relaxed)) {
            Some(t) => {
                t.emit(event.clone());
                self.0.emit(event);
            }
            None => self.0.emit(event),
        }
    }
}

/// At `rampart run`: close what a previous run left open, and start the timer.
pub fn start(config: &Config) {
    let Some(tracker) = tracker(config) else { return };
    static STARTED: AtomicBool = AtomicBool::new(false);
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Some(dir) = &tracker.settings().dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::warn!(target: "rampart::incident", dir = %dir.display(), error = %e, "cannot create the incident directory");
        }
        match Store::new(dir).close_interrupted() {
            Ok(ids) if !ids.is_empty() => {
                tracing::warn!(target: "rampart::incident", ?ids, "closed incidents a previous run left open")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(target: "rampart::incident", error = %e, "cannot read the incident directory"),
        }
        tracing::info!(target: "rampart::incident", dir = %dir.display(), "incidents tracked");
    }
    let spawned = std::thread::Builder::new().name("rampart-incident-tick".into()).spawn(move || loop {
        if ENABLED.load(Ordering::Relaxed) {
            tracker.tick();
        }
        std::thread::sleep(TICK);
    });
    if let Err(e) = spawned {
        tracing::warn!(target: "rampart::incident", error = %e, "cannot start the incident timer; incidents will not close");
    }
}

/// Open an incident by hand (the admin API): its id.
pub fn open_manual(reason: &str) -> Result<String, String> {
    match TRACKER.get().filter(|_| ENABLED.load(Ordering::Relaxed)) {
        Some(t) => Ok(t.open_manual(reason)),
        None => Err("incidents are not tracked: add an [incident] section".into()),
    }
}

/// The open and recently closed incidents (the admin API).
pub fn recent() -> Vec<Incident> {
    TRACKER.get().map(|t| t.recent()).unwrap_or_default()
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Json,
    Stix,
    Html,
}

/// `rampart report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The incident id (`INC-20261129-0001`), or `latest`.
    pub incident: String,
    #[arg(long, value_enum, default_value = "json")]
    pub format: ReportFormat,
    #[command(flatten)]
    pub from: Source,
    /// Write here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Where incidents are read from.
#[derive(Debug, Args)]
pub struct Source {
    /// The configuration whose `[incident] dir` (and `[audit] dir`) to read.
    #[arg(long, short, conflicts_with = "dir", global = true)]
    pub config: Option<PathBuf>,
    /// The incident directory itself.
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
}

/// `rampart incidents`.
#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    pub command: Option<IncidentsCommand>,
    #[command(flatten)]
    pub from: Source,
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// One line per incident, oldest first (the default).
    List,
}

/// The incident directory and the audit directory the source names.
fn dirs(from: &Source) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    if let Some(dir) = &from.dir {
        return Ok((dir.clone(), None));
    }
    let path = from.config.clone().unwrap_or_else(|| PathBuf::from("rampart.toml"));
    let config = rampart_config::load(&path).map_err(|e| anyhow::anyhow!("configuration refused:\n{e}"))?;
    let incident = config.incident.as_ref().with_context(|| format!("{}: no [incident] section", path.display()))?;
    Ok((incident.dir.clone(), config.audit.as_ref().map(|a| a.dir.clone())))
}

fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let (dir, audit_dir) = dirs(&args.from)?;
    let store = Store::new(&dir);
    let id = if args.incident == "latest" {
        store.ids()?.pop().with_context(|| format!("no incident in {}", dir.display()))?
    } else {
        args.incident.clone()
    };
    let incident = store.load(&id)?;
    let text = match args.format {
        ReportFormat::Json => serde_json::to_string_pretty(&incident)?,
        ReportFormat::Stix => serde_json::to_string_pretty(&rampart_incident::stix::bundle(&incident))?,
        ReportFormat::Html => {
            let audit = audit_dir.or_else(|| incident.reporter.audit_dir.as_ref().map(PathBuf::from));
            let checkpoint = match &audit {
                Some(a) => rampart_incident::checkpoint::latest(a)
                    .with_context(|| format!("reading the audit checkpoints of {}", a.display()))?,
                None => None,
            };
            let audit_text = audit.as_deref().map(Path::display).map(|d| d.to_string()).unwrap_or_default();
            rampart_incident::html::render(&incident, checkpoint.as_ref().map(|c| (c, audit_text.as_str())))
        }
    };
    match &args.out {
        Some(out) => std::fs::write(out, format!("{text}\n")).with_context(|| format!("writing {}", out.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}

fn list(from: &Source) -> anyhow::Result<()> {
    let (dir, _) = dirs(from)?;
    let store = Store::new(&dir);
    for id in store.ids()? {
        match store.load(&id) {
            Ok(i) => println!(
                "{id}  {:6}  {}  {} requests, {} refused, peak {}/s  {}",
                if i.status == rampart_incident::Status::Open { "open" } else { "closed" },
                i.opened_at,
                i.scale.total_requests,
                i.scale.refused_requests,
                i.scale.peak_rps,
                rampart_incident::html::headline(&i)
            ),
            Err(e) => println!("{id}  unreadable: {e}"),
        }
    }
    Ok(())
}

fn exit(what: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart {what}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `rampart report`.
pub fn report_main(args: ReportArgs) -> ExitCode {
    exit("report", report(&args))
}

/// `rampart incidents`.
pub fn incidents_main(args: IncidentsArgs) -> ExitCode {
    match args.command.unwrap_or(IncidentsCommand::List) {
        IncidentsCommand::List => exit("incidents", list(&args.from)),
    }
}
