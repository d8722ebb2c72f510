//! The shield under test, in process: the real proxy (hyper's parser, hygiene checks, routing,
//! the pipeline, forwarding) with one stage, the WAF, running the CRS configured as CRS's CI
//! configures ModSecurity, in front of the albedo-like backend.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rampart_core::{OnError, Pipeline, StageMode};
use rampart_proxy::{
    Balance, ClientAddressSource, ClientIdentity, Limits, ListenerSettings, Proxy, RouteSettings, Runtime,
    UpstreamSettings,
};
use rampart_shield::{Waf, WafSettings};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running shield.
pub struct Shield {
    /// Where the proxy listens.
    pub addr: SocketAddr,
    /// Rules the engine loaded.
    pub rules: usize,
    /// CRS rules left out because they did not load, as messages.
    pub load_errors: Vec<String>,
    /// Dropping it stops the listener.
    _stop: watch::Sender<bool>,
}

/// Build the engine from `crs_dir`, the proxy in front of `backend`, and start listening on
/// `127.0.0.1:0`. Must run inside a tokio runtime.
pub async fn start(crs_dir: &Path, backend: SocketAddr) -> anyhow::Result<Shield> {
    let (builder, errors) = rampart_waf::ftw::runner::regression_engine(crs_dir)
        .with_context(|| format!("loading the CRS from {}", crs_dir.display()))?;
    let engine = builder.build().with_context(|| format!("compiling the CRS from {}", crs_dir.display()))?;
    let rules = engine.rule_count();
    // The engine itself is `DetectionOnly` (as in CRS's CI): it logs and never intervenes, so
    // the status a test sees is the backend's. The stage is in detect mode too, so that even an
    // intervention would be recorded rather than enforced, as an operator's detection run would.
    let waf = Waf::from_engine(
        Arc::new(engine),
        WafSettings {
            rule_files: Vec::new(),
            rule_text: None,
            prelude: String::new(),
            paranoia: None,
            inspect_response_body: true,
            skip_refused_rules: false,
            mode: StageMode::Detect,
            on_error: OnError::Closed,
        },
    );
    let route = RouteSettings {
        name: "albedo".into(),
        host: None,
        path_prefix: "/".into(),
        upstream: "albedo".into(),
        sensitive: false,
        websocket: true,
    };
    let upstream = UpstreamSettings {
        name: "albedo".into(),
        servers: vec![backend],
        balance: Balance::RoundRobin,
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(30),
        health: None,
        // One server, always tried: a failure must show in the test it belongs to, not eject
        // the backend for the tests after it.
        eject_after: u32::MAX,
        eject_for: Duration::from_millis(1),
        max_in_flight: None,
        forward_headers: rampart_core::ForwardHeaders::ALL,
    };
    // The peer is the client: nothing in front of us, and X-Forwarded-For is test data.
    let identity = ClientIdentity { trusted_proxies: Vec::new(), source: ClientAddressSource::Peer };
    let pipeline = Pipeline::new(vec![Arc::new(waf)], StageMode::Enforce);
    let runtime = Runtime::new(vec![route], vec![upstream], pipeline, generous_limits(), identity, false)?;
    let proxy = Proxy::new(runtime, Arc::new(crate::run::LogSink));

    let listener = TcpListener::bind("127.0.0.1:0").await.context("proxy: cannot bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let settings = ListenerSettings { address: addr, tls: None, http2: false };
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(rampart_proxy::listener::serve(proxy, listener, settings, None, stop_rx, Duration::from_secs(1)));
    Ok(Shield { addr, rules, load_errors: errors.iter().map(|e| e.to_string()).collect(), _stop: stop })
}

/// Limits well above anything the suite sends.
///
/// CRS tests send on purpose what its rules exist to judge: long request lines and headers
/// (920...), hundreds of arguments (920380), bodies up to `SecRequestBodyLimit` (12.5 MiB, which
/// the engine answers itself with `Reject`). With the production defaults the proxy would
/// answer 414/431/413 first and the test would measure the proxy's limits instead of the WAF.
/// Connection caps are raised because every test comes from 127.0.0.1. The timeouts stay short:
/// a test whose request never completes should cost seconds, not a minute.
fn generous_limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(3),
        body_min_rate: 1,
        idle_timeout: Duration::from_secs(10),
        tunnel_idle_timeout: Duration::from_secs(10),
        write_timeout: Duration::from_secs(10),
        max_request_line: 1024 * 1024,
        max_header_bytes: 1024 * 1024,
        max_headers: 1000,
        max_body: 64 * 1024 * 1024,
        max_connections: 100_000,
        max_connections_per_client: 100_000,
        max_connections_per_prefix: 100_000,
        accept_rate: 1_000_000,
        // Above SecRequestBodyLimit, so that the engine, not the proxy, decides on large bodies.
        max_inspected_body: 16 * 1024 * 1024,
    }
}
