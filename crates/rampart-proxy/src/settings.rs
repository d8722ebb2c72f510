//! The proxy's typed settings: what the binary builds from the validated configuration.
//!
//! Kept here (not in `rampart-config`) so that the proxy depends on nothing above it: the
//! binary maps the configuration model onto these plain structs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// Where the real client address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAddressSource {
    /// The last untrusted hop of `X-Forwarded-For` (the default).
    #[default]
    XForwardedFor,
    /// The last untrusted `for=` of RFC 7239 `Forwarded`.
    Forwarded,
    /// A PROXY protocol v1 or v2 header at the start of the connection.
    ProxyProtocol,
    /// The socket peer, whatever headers say.
    Peer,
}

/// Who may tell us the client's address, and how.
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    pub trusted_proxies: Vec<IpNet>,
    pub source: ClientAddressSource,
}

/// A certificate and key in PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// TLS for one listener: a default certificate and any number of SNI-selected ones.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub default: CertFiles,
    pub sni: Vec<(String, CertFiles)>,
}

/// One listening socket.
#[derive(Debug, Clone)]
pub struct ListenerSettings {
    pub address: SocketAddr,
    pub tls: Option<TlsSettings>,
    /// Offer HTTP/2 (ALPN `h2` on TLS, prior knowledge on cleartext). Default: true.
    pub http2: bool,
}

/// Bounds that keep slow and oversized clients from tying up the proxy.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time to receive a whole request head. Default 10 s.
    pub header_read_timeout: Duration,
    /// Minimum average request-body rate in bytes per second, after a grace of one
    /// `header_read_timeout`. Default 1 KiB/s.
    pub body_min_rate: u64,
    /// Time a connection may sit without reading a byte. Default 60 s.
    pub idle_timeout: Duration,
    /// Time an open WebSocket tunnel may carry no byte either way. Default 60 s.
    pub tunnel_idle_timeout: Duration,
    /// Time a write to the client may stall (slow read). Default 30 s.
    pub write_timeout: Duration,
    /// Longest request line (method, target, version). Default 8 KiB.
    pub max_request_line: usize,
    /// Largest request head in bytes. Default 32 KiB.
    pub max_header_bytes: usize,
    /// Most header fields in a request. Default 100.
    pub max_headers: usize,
    /// Largest request body. Default 10 MiB.
    pub max_body: u64,
    /// Open connections, all clients together. Default 20,000.
    pub max_connections: usize,
    /// Open connections per client address. Default 64.
    pub max_connections_per_client: usize,
    /// Open connections per /24 (IPv4) or /64 (IPv6). Default 512.
    pub max_connections_per_prefix: usize,
    /// Accepted connections per second, all listeners together. Default 5,000.
    pub accept_rate: u32,
    /// Largest body the pipeline buffers for inspection; larger bodies are refused with 413
    /// when a stage wants the body. Default 1 MiB.
    pub max_inspected_body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_min_rate: 1024,
            idle_timeout: Duration::from_secs(60),
            tunnel_idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_request_line: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            max_body: 10 * 1024 * 1024,
            max_connections: 20_000,
            max_connections_per_client: 64,
            max_connections_per_prefix: 512,
            accept_rate: 5_000,
            max_inspected_body: 1024 * 1024,
        }
    }
}

/// How a pool picks a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    #[default]
    RoundRobin,
    LeastConn,
}

/// Active health checking of a pool's servers.
#[derive(Debug, Clone)]
pub struct HealthSettings {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive successes before a server is used again. Default 2.
    pub healthy_threshold: u32,
    /// Consecutive failures before a server is taken out. Default 3.
    pub unhealthy_threshold: u32,
}

/// One upstream pool.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    pub name: String,
    pub servers: Vec<SocketAddr>,
    pub balance: Balance,
    pub connect_timeout: Duration,
    /// Time to wait for the response head. Default 30 s.
    pub read_timeout: Duration,
    pub health: Option<HealthSettings>,
    /// Consecutive request failures (connect errors, timeouts) that take a server out for
    /// `eject_for` — passive ejection. Default 3.
    pub eject_after: u32,
    /// Default 10 s.
    pub eject_for: Duration,
    /// The most requests in flight to the pool (`max_connections`); the adaptive limit stays
    /// under it. `None`: the adaptive limit's own ceiling.
    pub max_in_flight: Option<u32>,
    /// The forwarding fields set on requests to the pool (`forward_headers`).
    pub forward_headers: rampart_core::ForwardHeaders,
}

/// A route: requests whose host and path prefix match go to `upstream`.
#[derive(Debug, Clone)]
pub struct RouteSettings {
    pub name: String,
    /// Exact host (lowercase, no port); any host when `None`.
    pub host: Option<String>,
    pub path_prefix: String,
    pub upstream: String,
    pub sensitive: bool,
    /// WebSocket handshakes keep their upgrade (see crate::tunnel); when false they reach the
    /// upstream as plain GETs.
    pub websocket: bool,
}
