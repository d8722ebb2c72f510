//! `rampart drill`'s command line: what the user typed, before [`super::plan`] checks and
//! bounds it.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// The attack to rehearse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Many sources, many connections, plain GETs (optionally cache-busting).
    Flood,
    /// Slowloris (headers trickled), slow POST (body trickled), slow read.
    Slow,
    /// A path scanner: /.env, /.git/config, /wp-admin, sequential 404s.
    Scan,
    /// Credential stuffing: POST logins from the leaked-passwords list.
    Stuffing,
    /// SQL injection, XSS, path traversal and command injection payloads.
    Inject,
    /// No attack: the legitimate-user probe alone (a calm baseline to compare with).
    Calm,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Flood => "flood",
            Scenario::Slow => "slow",
            Scenario::Scan => "scan",
            Scenario::Stuffing => "stuffing",
            Scenario::Inject => "inject",
            Scenario::Calm => "calm",
        }
    }
}

/// How a drill's requests appear to come from many clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceMode {
    /// `bind` for a loopback target, `none` otherwise.
    Auto,
    /// Bind each connection to its own 127.x.y.z address (loopback targets only).
    Bind,
    /// One connection source; each request says its source in `X-Forwarded-For` (for a target
    /// that trusts the drill's address as a proxy).
    Xff,
    /// The operating system's choice of source address; one source.
    None,
}

/// Which slow attack `slow` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SlowKind {
    /// A third of the connections each.
    All,
    /// Slowloris: a request head never finished, one header line per interval.
    Headers,
    /// A complete head announcing a body sent one byte per interval.
    Body,
    /// A complete request whose response is read one byte per interval.
    Read,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The attack to rehearse.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// The target, `http://host[:port][/]`. Loopback unless `[drill] targets` in `--config`
    /// names it.
    #[arg(long, default_value = "http://127.0.0.1:8080/")]
    pub target: String,
    /// A Rampart configuration whose `[drill] targets` lists the non-loopback hosts and
    /// addresses that may be drilled.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Use these addresses for a host name instead of resolving it: `HOST=ADDR[,ADDR...]`.
    #[arg(long, value_name = "HOST=ADDRS")]
    pub resolve: Vec<String>,
    /// How long the attack lasts (at most 10m).
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// The most requests the attack sends (at most 10,000,000).
    #[arg(long, default_value_t = 1_000_000)]
    pub requests: u64,
    /// Connections open at once (default per scenario: flood 200, slow 60, scan 2, stuffing 20,
    /// inject 8; at most 20,000).
    #[arg(long)]
    pub connections: Option<usize>,
    /// Distinct source addresses, used in turn (default per scenario: flood 1,000, stuffing
    /// 1,000, inject 10, scan and slow 1).
    #[arg(long)]
    pub sources: Option<u64>,
    /// How sources are made.
    #[arg(long, value_enum, default_value = "auto")]
    pub source_mode: SourceMode,
    /// Requests on one connection before it is closed and the next source takes over.
    #[arg(long, default_value_t = 20)]
    pub requests_per_connection: u64,
    /// Paths requested (flood: in turn; inject: where the payloads go). Default `/` for flood,
    /// `/contacts` for inject.
    #[arg(long = "path")]
    pub paths: Vec<String>,
    /// Add a distinct `drill=N` query to every flood request, as floods that defeat caches do.
    #[arg(long)]
    pub cache_bust: bool,
    /// Cap on the attack's requests per second (default: as fast as it goes).
    #[arg(long)]
    pub rate: Option<u32>,
    /// Per-request deadline for the attack.
    #[arg(long, default_value = "5s")]
    pub timeout: String,
    /// stuffing: the login form's path.
    #[arg(long, default_value = "/login")]
    pub login_path: String,
    /// stuffing: the form's user-name field.
    #[arg(long, default_value = "username")]
    pub username_field: String,
    /// stuffing: the form's password field.
    #[arg(long, default_value = "password")]
    pub password_field: String,
    /// stuffing: login attempts from each source.
    #[arg(long, default_value_t = 5)]
    pub attempts_per_source: u64,
    /// inject: the query / form parameter the payloads go in.
    #[arg(long, default_value = "q")]
    pub param: String,
    /// inject: only these payload families (repeatable; default all).
    #[arg(long = "inject-class", value_enum)]
    pub inject_classes: Vec<super::inject::Class>,
    /// slow: which slow attack.
    #[arg(long, value_enum, default_value = "all")]
    pub slow_kind: SlowKind,
    /// slow: time between trickled bytes or header lines.
    #[arg(long, default_value = "1s")]
    pub interval: String,
    /// The legitimate-user probe's path.
    #[arg(long, default_value = "/")]
    pub probe_path: String,
    /// Bind the probe to this source address (a staff network's, such as 127.0.0.2), or to a
    /// network's addresses, one per user in turn (`127.0.2.0/27`: users from their own
    /// addresses, as real users come).
    #[arg(long, value_parser = parse_source)]
    pub probe_source: Option<ipnet::IpNet>,
    /// A header every probe request carries, `Name: value` (repeatable).
    #[arg(long)]
    pub probe_header: Vec<String>,
    /// A cookie every probe request carries, `name=value` (repeatable).
    #[arg(long)]
    pub probe_cookie: Vec<String>,
    /// Probe users, each on its own keep-alive connection.
    #[arg(long, default_value_t = 2)]
    pub probe_users: usize,
    /// Requests per second of each probe user.
    #[arg(long, default_value_t = 2)]
    pub probe_rate: u32,
    /// A probe request not answered within this is a failure.
    #[arg(long, default_value = "2s")]
    pub probe_timeout: String,
    /// The probe stands for clearance holders: each user earns a clearance before its first
    /// request (asking for a challenge ahead of time, not counted as a request), and solves a
    /// challenge again whenever it meets one, as a browser does (the proof of work, redeemed for
    /// a clearance cookie it then keeps); that solving counts in the request's latency.
    #[arg(long)]
    pub probe_solve: bool,
    /// No legitimate-user probe.
    #[arg(long)]
    pub no_probe: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--probe-source`: an address (every user binds it) or a network (users take its addresses in
/// turn).
fn parse_source(s: &str) -> Result<ipnet::IpNet, String> {
    match s.parse::<std::net::IpAddr>() {
        Ok(ip) => Ok(ipnet::IpNet::from(ip)),
        Err(_) => s.parse::<ipnet::IpNet>().map_err(|_| format!("`{s}`: expected an address or a network such as 127.0.2.0/27")),
    }
}
