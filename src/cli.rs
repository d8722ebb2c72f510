//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Rampart: a self-hosted attack shield for web platforms.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the shield with a configuration file.
    Run {
        /// The configuration file.
        #[arg(long, short, default_value = "rampart.toml")]
        config: PathBuf,
    },
    /// Check a configuration file and report every problem at once (exit 1 if any).
    CheckConfig {
        /// The configuration file.
        file: PathBuf,
    },
    /// Start the built-in testbed app and the shield in front of it on 127.0.0.1:8080, with
    /// the admin listener on 127.0.0.1:9090. Runs until Ctrl-C.
    Demo(DemoArgs),
    /// Serve the testbed app alone (for drills and benchmarks).
    Testbed(TestbedArgs),
    /// The audit trail: signing keys, verification, inclusion proofs.
    Audit {
        #[command(subcommand)]
        command: crate::audit::AuditCommand,
    },
    /// Rehearse an attack (flood, slow, scan, stuffing, inject) against your own deployment,
    /// with a legitimate-user probe beside it, and report what was blocked, challenged and
    /// passed. Loopback targets only, unless `[drill] targets` in --config names the target.
    Drill(crate::drill::DrillArgs),
    /// Render an incident's report: JSON (the incident record), a STIX 2.1 bundle, or a
    /// self-contained HTML page for a national CSC.
    Report(crate::incident::ReportArgs),
    /// List the incidents in `[incident] dir`.
    Incidents(crate::incident::IncidentsArgs),
    /// WAF tools.
    Waf {
        #[command(subcommand)]
        command: WafCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum WafCommand {
    /// Run the CRS regression suite (go-ftw YAML) through the real proxy, in process, against
    /// an albedo-like backend. Prints failures, then `N passed, M failed`; exit 1 if any failed.
    Ftw(FtwArgs),
}

#[derive(Debug, Args)]
pub struct FtwArgs {
    /// The CRS directory (`crs-setup.conf.example` and `rules/`).
    #[arg(long)]
    pub rules: PathBuf,
    /// The directory of go-ftw test files (`tests/regression/tests`), searched recursively.
    #[arg(long)]
    pub tests: PathBuf,
    /// Known divergences (go-ftw overrides format; every entry has a reason).
    #[arg(long)]
    pub overrides: Option<PathBuf>,
    /// Only test files whose path contains this (a rule id such as 920100, or a file name).
    #[arg(long)]
    pub filter: Option<String>,
    /// Print every exchange (request, status, request id) and the WAF's log lines on stderr.
    #[arg(long)]
    pub trace: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Use this configuration instead of the embedded `examples/demo.toml`.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TestbedArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,
    /// Number of synthetic contacts.
    #[arg(long, default_value_t = 5000)]
    pub contacts: usize,
    /// Serve pages without a login (for flood and scraping drills).
    #[arg(long)]
    pub open: bool,
    /// Deliberately vulnerable (string-built SQL, reflected input). Loopback only; for tests
    /// and drills, never for real data.
    #[arg(long)]
    pub vulnerable: bool,
    /// Simulate a capacity-limited app: at most this many requests at once...
    #[arg(long)]
    pub max_concurrent: Option<usize>,
    /// ...each holding its slot this many milliseconds.
    #[arg(long)]
    pub work_ms: Option<u64>,
}
