//! `[server]`, `[[listener]]`, `[limits]`, `[[upstream]]`, `[[route]]`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `trusted_proxies`: peers whose forwarding headers (or PROXY protocol header) are
    /// believed. Bare addresses become /32 or /128. Default: none.
    pub trusted_proxies: Vec<IpNet>,
    /// `client_address`: where the client's address comes from. Default: [`ClientAddress::Peer`].
    pub client_address: ClientAddress,
    /// `pin_workers`: each per-core worker thread runs on a CPU of its own, when the process
    /// may use as many CPUs as it runs workers. Default: true.
    pub pin_workers: bool,
}

impl Default for Server {
    fn default() -> Server {
        Server { trusted_proxies: Vec::new(), client_address: ClientAddress::default(), pin_workers: true }
    }
}

/// `[server] client_address`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAddress {
    /// `"peer"`: the TCP peer's address (the default; right when nothing stands in front).
    #[default]
    Peer,
    /// `"x-forwarded-for"`: the right-most address in `X-Forwarded-For` not in `trusted_proxies`.
    XForwardedFor,
    /// `"forwarded"`: the RFC 7239 `Forwarded: for=` parameter, same walk.
    Forwarded,
    /// `"proxy-protocol"`: the PROXY protocol v1/v2 header sent by a trusted peer.
    ProxyProtocol,
}

/// `[[listener]]`: one address to accept connections on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// `address`: `"0.0.0.0:443"`, `"[::]:80"`. Required; unique among listeners.
    pub address: SocketAddr,
    /// `tls`: certificate and key (and `[[listener.tls_sni]]` extras); `None` is plain HTTP.
    pub tls: Option<Tls>,
    /// `http2`: offer HTTP/2 (ALPN `h2` with TLS, prior knowledge without). Default: `true`.
    pub http2: bool,
}

/// TLS for a listener. Files are checked to exist and be readable, not parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// `tls.cert`: PEM certificate chain, served when no SNI entry matches.
    pub cert: PathBuf,
    /// `tls.key`: PEM private key for `cert`.
    pub key: PathBuf,
    /// `[[listener.tls_sni]]`: certificates chosen by SNI name. Default: none.
    pub sni: Vec<SniCert>,
}

/// `[[listener.tls_sni]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniCert {
    /// `name`: the server name (`"www.example.org"`, or `"*.example.org"`), lower-cased.
    pub name: String,
    /// `cert`: PEM certificate chain.
    pub cert: PathBuf,
    /// `key`: PEM private key.
    pub key: PathBuf,
}

/// `[limits]`. Defaults follow what nginx and HAProxy users expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `header_read_timeout`: time to receive a whole request head. Default `10s` (HAProxy's
    /// usual `timeout http-request`).
    pub header_read_timeout: Duration,
    /// `body_min_rate`: a body arriving slower than this (bytes/second) is cut off. Default
    /// `500B/s` (Apache mod_reqtimeout's `MinRate=500`).
    pub body_min_rate: u64,
    /// `idle_timeout`: keep-alive connection with no request. Default `75s` (nginx
    /// `keepalive_timeout`).
    pub idle_timeout: Duration,
    /// `tunnel_idle_timeout`: an open WebSocket tunnel with no byte either way. Default: the
    /// `idle_timeout` (HAProxy's `timeout tunnel`; nginx's `proxy_read_timeout` plays this part).
    pub tunnel_idle_timeout: Duration,
    /// `write_timeout`: how long a write to a client may stall (a slow reader keeping its
    /// window shut). Default `30s` (nginx `send_timeout` is 60s; a shield can be stricter).
    pub write_timeout: Duration,
    /// `accept_rate`: new connections accepted per second, all listeners together; beyond it
    /// connections are closed at once. Default `5000/s`.
    pub accept_rate: rampart_core::Rate,
    /// `max_request_line`: bytes in the request line. Default `8KiB` (nginx
    /// `large_client_header_buffers` buffer size). Answered with 414 above it.
    pub max_request_line: u64,
    /// `max_header_bytes`: bytes in the whole request head. Default `32KiB` (nginx's 4 × 8k).
    /// Answered with 431 above it.
    pub max_header_bytes: u64,
    /// `max_headers`: number of header fields. Default `100` (Apache `LimitRequestFields`).
    pub max_headers: NonZeroU32,
    /// `max_body`: bytes in a request body. Default `1MiB` (nginx `client_max_body_size`).
    /// Answered with 413 above it.
    pub max_body: u64,
    /// `max_connections`: open client connections in total. Default `10000`.
    pub max_connections: NonZeroU32,
    /// `max_connections_per_client`: open connections from one client address. Default `64`
    /// (or `max_connections_per_prefix` when that is smaller). Never above it.
    pub max_connections_per_client: NonZeroU32,
    /// `max_connections_per_prefix`: open connections from one /24 (IPv4) or /64 (IPv6).
    /// Default `512` (or `max_connections` when that is smaller). Never above it.
    pub max_connections_per_prefix: NonZeroU32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_min_rate: 500,
            idle_timeout: Duration::from_secs(75),
            tunnel_idle_timeout: Duration::from_secs(75),
            write_timeout: Duration::from_secs(30),
            accept_rate: rampart_core::Rate { count: 5000, per: Duration::from_secs(1) },
            max_request_line: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_headers: nz(100),
            max_body: 1024 * 1024,
            max_connections: nz(10_000),
            max_connections_per_client: nz(64),
            max_connections_per_prefix: nz(512),
        }
    }
}

/// A non-zero constant (the defaults); `1` for the impossible zero.
pub(crate) const fn nz(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(v) => v,
        None => NonZeroU32::MIN,
    }
}

/// `[[upstream]]`: a pool of servers requests are proxied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `name`: how routes refer to it. Required, unique.
    pub name: String,
    /// `servers`: `"host:port"` entries, at least one.
    pub servers: Vec<UpstreamServer>,
    /// `balance`: how a server is picked. Default: [`Balance::RoundRobin`].
    pub balance: Balance,
    /// `connect_timeout`: Default `5s`.
    pub connect_timeout: Duration,
    /// `read_timeout`: longest wait for the upstream's response head, and between body
    /// chunks. Default `60s` (nginx `proxy_read_timeout`).
    pub read_timeout: Duration,
    /// `health`: active health checks; `None` when absent (servers are marked down only by
    /// failed requests).
    pub health: Option<HealthCheck>,
    /// `max_connections`: concurrent requests to the whole pool; beyond it requests queue by
    /// priority. Default: `None`, unlimited.
    pub max_connections: Option<NonZeroU32>,
    /// `forward_headers`: the forwarding fields set toward the pool's servers. Default: all
    /// five (`x-forwarded-for`, `x-forwarded-proto`, `x-forwarded-host`, `forwarded`,
    /// `x-request-id`); the client's own copies of them are dropped whatever the set.
    pub forward_headers: rampart_core::ForwardHeaders,
}

/// One `servers` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamServer {
    /// Host name or IP address (without brackets), resolved when connecting.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::fmt::Display for UpstreamServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `[[upstream]] balance`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Balance {
    /// `"round_robin"`: each server in turn (the default, as in nginx and HAProxy).
    #[default]
    RoundRobin,
    /// `"least_conn"`: the server with the fewest requests in flight.
    LeastConn,
}

/// `[upstream.health]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// `path`: requested with GET; a 2xx or 3xx answer is healthy. Default `"/"`.
    pub path: String,
    /// `interval`: between checks. Default `5s`.
    pub interval: Duration,
    /// `timeout`: for one check; shorter than `interval`. Default `2s`.
    pub timeout: Duration,
    /// `healthy_threshold`: consecutive successes to mark a server up. Default `2` (HAProxy `rise`).
    pub healthy_threshold: NonZeroU32,
    /// `unhealthy_threshold`: consecutive failures to mark it down. Default `3` (HAProxy `fall`).
    pub unhealthy_threshold: NonZeroU32,
}

/// `[[route]]`: which requests go to which upstream. First match wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `name`: for logs, metrics and `[[rate_limit]] routes`. Default: `host` + `path`
    /// (`"campaign.example.org/"`, or just `"/contacts"`). Unique.
    pub name: String,
    /// `host`: exact (`"campaign.example.org"`) or one leading wildcard label
    /// (`"*.example.org"`), lower-cased. `None` matches any host.
    pub host: Option<String>,
    /// `path`: a path prefix, starting with `/`, matched on whole segments. Default `"/"`.
    pub path: String,
    /// `upstream`: the name of an `[[upstream]]`. Required.
    pub upstream: String,
    /// Index of that upstream in [`crate::Config::upstreams`].
    pub upstream_index: usize,
    /// `sensitive`: every access is audited and exfiltration budgets apply. Default `false`.
    pub sensitive: bool,
    /// `websocket`: WebSocket handshakes on this route reach the upstream with their upgrade.
    /// When `false`, the `Upgrade` is dropped with the other hop-by-hop fields and the upstream
    /// sees a plain `GET`. Default `true`.
    pub websocket: bool,
}
