//! Running the shield: `[state]`, `[audit]`, `[admin]`, `[log]`; rehearsing attacks: `[drill]`.

use serde::Deserialize;

use super::{Bool, Str, StrList};

/// `[state]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    pub backend: Option<Str>,
    pub memory_ceiling: Option<Str>,
    pub redis: Option<RawRedis>,
}

/// `[state.redis]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedis {
    pub url: Str,
    pub sync_interval: Option<Str>,
    pub key_prefix: Option<Str>,
}

/// `[audit]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub dir: Str,
    pub signing_key: Str,
    pub checkpoint_interval: Option<Str>,
    pub segment_size: Option<Str>,
    pub retention_size: Option<Str>,
    pub retention_age: Option<Str>,
    pub egress_interval: Option<Str>,
}

/// `[admin]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub address: Option<Str>,
    pub allow_remote: Option<Bool>,
    pub token_file: Str,
}

/// `[log]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub level: Option<Str>,
    pub format: Option<Str>,
    pub access_log: Option<Str>,
}

/// `[drill]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDrill {
    pub targets: Option<StrList>,
}
