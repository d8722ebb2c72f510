//! Running the shield: `[state]`, `[audit]`, `[admin]`, `[log]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `[state]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// `backend` (and `redis`): Default [`StateBackend::Memory`].
    pub backend: StateBackend,
    /// `memory_ceiling`: hard cap on this node's keyed state. Default `256MiB`.
    pub memory_ceiling: u64,
}

impl Default for State {
    fn default() -> State {
        State { backend: StateBackend::Memory, memory_ceiling: 256 * 1024 * 1024 }
    }
}

/// `[state] backend`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateBackend {
    /// `"memory"`: this node only (the default).
    #[default]
    Memory,
    /// `"redis"`: shared through Redis; requires `[state.redis]`.
    Redis(Redis),
}

/// `[state.redis]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redis {
    /// `url`: `redis://`, `rediss://` or `unix://`. Required.
    pub url: String,
    /// `sync_interval`: how often local counts are reconciled. Default `100ms`.
    pub sync_interval: Duration,
    /// `key_prefix`: Default `"rampart:"`.
    pub key_prefix: String,
}

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// `dir`: where the log and checkpoints are written (created if missing; must not be a
    /// file). Required.
    pub dir: PathBuf,
    /// `signing_key`: Ed25519 key for checkpoints (checked to exist and be readable). Required.
    pub signing_key: PathBuf,
    /// `checkpoint_interval`: Default `1s`; at most `1m`.
    pub checkpoint_interval: Duration,
    /// `segment_size`: a new segment file once one reaches this size. Default `64MiB`; from
    /// `64KiB` to `1GiB`.
    pub segment_size: u64,
    /// `retention_size`: the oldest segments are removed while all of them together exceed
    /// this; at least twice `segment_size`. Default: never.
    pub retention_size: Option<u64>,
    /// `retention_age`: segments whose last record is older than this are removed. Default:
    /// never.
    pub retention_age: Option<Duration>,
    /// `egress_interval`: each sensitive route's egress is summed over this long and written
    /// as one `egress` record (the baseline `rampart audit assess` judges volume against).
    /// Default `1m`; from `1s` to `1h`.
    pub egress_interval: Duration,
}

/// `[audit] segment_size` by default.
pub const DEFAULT_AUDIT_SEGMENT_SIZE: u64 = 64 << 20;

/// The admin API's default address: loopback only.
pub const DEFAULT_ADMIN_ADDRESS: &str = "127.0.0.1:9090";

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// `address`: Default `127.0.0.1:9090`. A non-loopback address needs `allow_remote`.
    pub address: SocketAddr,
    /// `allow_remote`: permit a non-loopback `address`. Default `false`.
    pub allow_remote: bool,
    /// `token_file`: the bearer token every admin request must carry. Required.
    pub token_file: PathBuf,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// `level`: Default `info`.
    pub level: LogLevel,
    /// `format`: Default `json`.
    pub format: LogFormat,
    /// `access_log`: `"stdout"` (default), `"off"` or a file path.
    pub access_log: AccessLog,
}

impl Default for Log {
    fn default() -> Log {
        Log { level: LogLevel::Info, format: LogFormat::Json, access_log: AccessLog::Stdout }
    }
}

/// `[log] level`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `"error"`.
    Error,
    /// `"warn"`.
    Warn,
    /// `"info"` (the default).
    #[default]
    Info,
    /// `"debug"`.
    Debug,
    /// `"trace"`.
    Trace,
}

/// `[log] format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `"json"`: one object per line (the default).
    #[default]
    Json,
    /// `"text"`: human-readable.
    Text,
}

/// `[log] access_log`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AccessLog {
    /// `"stdout"` (the default).
    #[default]
    Stdout,
    /// `"off"`.
    Off,
    /// A file path, appended to (its directory must exist).
    File(PathBuf),
}

/// `[drill]`: what `rampart drill` may be aimed at besides loopback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drill {
    /// `targets`: host names and addresses a drill may send to although they are not loopback
    /// (a staging deployment). Default: none — loopback targets only.
    pub targets: Vec<DrillTarget>,
}

/// One `[drill] targets` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrillTarget {
    /// A host name, lowercase, without a trailing dot: a URL naming exactly this host may be
    /// drilled, whatever it resolves to.
    Host(String),
    /// An address: a target all of whose resolved addresses are named may be drilled.
    Address(std::net::IpAddr),
}
