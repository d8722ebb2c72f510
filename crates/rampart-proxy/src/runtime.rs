//! The proxy's running state, swapped whole on reload.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use rampart_core::{EventSink, Gate, Pipeline, Pressure};
use tokio::sync::watch;

use crate::guard::ConnectionGuard;
use crate::metrics::Metrics;
use crate::route::Router;
use crate::settings::{ClientIdentity, Limits, RouteSettings, UpstreamSettings};
use crate::shard::{Sharded, SHARDS};
use crate::upstream::{spawn_health_checks, Pool};
use crate::workers::Workers;

/// Why a runtime could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("route `{route}` names upstream `{upstream}`, which is not defined")]
    UnknownUpstream { route: String, upstream: String },
}

/// Everything a request needs that a reload may change.
pub struct Runtime {
    pub router: Router,
    pub pools: HashMap<String, Arc<Pool>>,
    /// Each route's pool, by its place in the router: found by index per request, where the
    /// map above hashes the upstream's name (SipHash, ~200 instructions).
    pub(crate) route_pools: Vec<Arc<Pool>>,
    pub pipeline: Pipeline,
    pub limits: Limits,
    pub identity: ClientIdentity,
    /// Write one JSON access-log line per request.
    pub access_log: bool,
    /// Renders challenges and answers the challenge endpoint; without one, a challenge is a
    /// 503 with `Retry-After`.
    pub gate: Option<Arc<dyn Gate>>,
    /// Whether the shield is defending: admission sheds lanes only then.
    pub pressure: Option<Arc<dyn Pressure>>,
    /// Networks of the priority classes (staff), known from the socket peer: their connections
    /// are served on a worker of their own (see [`crate::workers`]).
    pub priority_networks: Vec<ipnet::IpNet>,
    health_stop: watch::Sender<bool>,
}

impl Runtime {
    /// Build a runtime. Health checkers start when it is installed and stop when it is replaced.
    pub fn new(
        routes: Vec<RouteSettings>,
        upstreams: Vec<UpstreamSettings>,
        pipeline: Pipeline,
        limits: Limits,
        identity: ClientIdentity,
        access_log: bool,
    ) -> Result<Runtime, RuntimeError> {
        let pools: HashMap<String, Arc<Pool>> =
            upstreams.into_iter().map(|u| (u.name.clone(), Pool::new(u))).collect();
        let router = Router::new(routes);
        let mut route_pools = Vec::new();
        for info in router.infos() {
            match pools.get(&*info.upstream) {
                Some(pool) => route_pools.push(Arc::clone(pool)),
                None => {
                    return Err(RuntimeError::UnknownUpstream { route: info.name.to_string(), upstream: info.upstream.to_string() })
                }
            }
        }
        let (health_stop, _) = watch::channel(false);
        Ok(Runtime {
            router,
            pools,
            route_pools,
            pipeline,
            limits,
            identity,
            access_log,
            gate: None,
            pressure: None,
            priority_networks: Vec::new(),
            health_stop,
        })
    }

    /// Shed admission lanes only while `pressure` says so.
    pub fn with_pressure(mut self, pressure: Arc<dyn Pressure>) -> Runtime {
        self.pressure = Some(pressure);
        self
    }

    /// Serve connections from `networks` (the priority classes' staff networks) on the priority
    /// worker, apart from everyone else's.
    pub fn with_priority_networks(mut self, networks: Vec<ipnet::IpNet>) -> Runtime {
        self.priority_networks = networks;
        self
    }

    /// Whether a connection from `peer` belongs on the priority worker: the peer is the client
    /// (no proxy in front to speak for it) and in a priority network.
    pub fn is_priority_peer(&self, peer: std::net::IpAddr) -> bool {
        !self.priority_networks.is_empty()
            && (self.identity.source == crate::settings::ClientAddressSource::Peer || !self.identity.is_trusted(peer))
            && self.priority_networks.iter().any(|n| n.contains(&peer))
    }

    /// Serve challenges through `gate`.
    pub fn with_gate(mut self, gate: Arc<dyn Gate>) -> Runtime {
        self.gate = Some(gate);
        self
    }

    fn start_health_checks(&self) {
        for pool in self.pools.values() {
            spawn_health_checks(Arc::clone(pool), self.health_stop.subscribe());
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.health_stop.send(true);
    }
}

/// The shield's front end: the current runtime, connection accounting and metrics.
pub struct Proxy {
    runtime: ArcSwap<Runtime>,
    pub guard: Arc<ConnectionGuard>,
    pub metrics: Metrics,
    pub events: Arc<dyn EventSink>,
    id_prefix: String,
    /// Request counters, one per thread: thread `i` of [`SHARDS`] numbers its requests
    /// `i + 1`, `i + 1 + SHARDS`, … (unique, without a counter every worker writes).
    next_id: Sharded<AtomicU64>,
    /// The per-core worker threads connections are served on, started by the first listener.
    workers: OnceLock<Option<Workers>>,
}

impl Proxy {
    /// Install `runtime` and start its health checks. Must run inside a tokio runtime.
    pub fn new(runtime: Runtime, events: Arc<dyn EventSink>) -> Arc<Proxy> {
        runtime.start_health_checks();
        let guard = ConnectionGuard::new(&runtime.limits);
        Arc::new(Proxy {
            runtime: ArcSwap::from_pointee(runtime),
            guard,
            metrics: Metrics::default(),
            events,
            id_prefix: format!("{:06x}", rand::random::<u32>() & 0xff_ffff),
            next_id: Sharded::default(),
            workers: OnceLock::new(),
        })
    }

    /// The per-core workers, started on first use; `None` when their threads could not start
    /// (connections are then served on the caller's runtime).
    pub fn workers(&self) -> Option<&Workers> {
        self.workers
            .get_or_init(|| match Workers::per_core() {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the worker threads; serving on the main runtime");
                    None
                }
            })
            .as_ref()
    }

    /// The runtime requests start on now.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// Swap in a new runtime (reload). Connections stay open; requests in flight finish on the
    /// old one, whose health checkers stop once the last of them is done.
    pub fn install(&self, runtime: Runtime) {
        runtime.start_health_checks();
        self.guard.update(&runtime.limits);
        self.runtime.store(Arc::new(runtime));
        self.metrics.reloads_ok.fetch_add(1, Ordering::Relaxed);
    }

    /// A fresh request id: a per-process prefix and a counter, short enough to read out on the
    /// phone to an operator.
    pub fn next_request_id(&self) -> String {
        let n = self.next_id.local().fetch_add(1, Ordering::Relaxed);
        request_id(&self.id_prefix, n * SHARDS as u64 + crate::shard::index() as u64 + 1)
    }
}

/// `format!("{prefix}-{n:x}")` without the formatting machinery: it runs once per request.
fn request_id(prefix: &str, n: u64) -> String {
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
    let mut id = String::with_capacity(prefix.len() + 1 + digits);
    id.push_str(prefix);
    id.push('-');
    for i in (0..digits).rev() {
        id.push(char::from(b"0123456789abcdef"[((n >> (i * 4)) & 0xf) as usize]));
    }
    id
}

#[cfg(test)]
mod request_id_tests {
    #[test]
    fn request_ids_are_the_prefix_and_the_counter_in_hex() {
        for n in [0u64, 1, 9, 10, 15, 16, 255, 256, 0x1234_abcd, u64::MAX] {
            assert_eq!(super::request_id("0a1b2c", n), format!("0a1b2c-{n:x}"));
        }
    }
}
