//! `[server]`, `[[listener]]`, `[limits]`, `[[upstream]]`, `[[route]]`.

use serde::Deserialize;

use super::{Bool, Int, Str, StrList};

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub trusted_proxies: Option<StrList>,
    pub client_address: Option<Str>,
    pub pin_workers: Option<Bool>,
}

/// `[[listener]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListener {
    pub address: Str,
    pub tls: Option<RawTls>,
    pub tls_sni: Option<Vec<RawSni>>,
    pub http2: Option<Bool>,
}

/// `[listener.tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    pub cert: Str,
    pub key: Str,
}

/// `[[listener.tls_sni]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSni {
    pub name: Str,
    pub cert: Str,
    pub key: Str,
}

/// `[limits]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub header_read_timeout: Option<Str>,
    pub body_min_rate: Option<Str>,
    pub idle_timeout: Option<Str>,
    pub tunnel_idle_timeout: Option<Str>,
    pub write_timeout: Option<Str>,
    pub accept_rate: Option<Str>,
    pub max_request_line: Option<Str>,
    pub max_header_bytes: Option<Str>,
    pub max_headers: Option<Int>,
    pub max_body: Option<Str>,
    pub max_connections: Option<Int>,
    pub max_connections_per_client: Option<Int>,
    pub max_connections_per_prefix: Option<Int>,
}

/// `[[upstream]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstream {
    pub name: Str,
    pub servers: StrList,
    pub balance: Option<Str>,
    pub connect_timeout: Option<Str>,
    pub read_timeout: Option<Str>,
    pub health: Option<RawHealth>,
    pub max_connections: Option<Int>,
    pub forward_headers: Option<StrList>,
}

/// `[upstream.health]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHealth {
    pub path: Option<Str>,
    pub interval: Option<Str>,
    pub timeout: Option<Str>,
    pub healthy_threshold: Option<Int>,
    pub unhealthy_threshold: Option<Int>,
}

/// `[[route]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub name: Option<Str>,
    pub host: Option<Str>,
    pub path: Option<Str>,
    pub upstream: Str,
    pub sensitive: Option<Bool>,
    pub websocket: Option<Bool>,
}
