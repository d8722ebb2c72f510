//! The proxy's running state, swapped whole on reload.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use rampart_core::{EventSink, Gate, Pipeline, Pressure, RouteInfo};
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
    /// Pin each per-core worker to a CPU of its own (`[server] pin_workers`; see
    /// [`crate::workers`]).
    pub pin_workers: bool,
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
            pin_workers: true,
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

    /// Pin the per-core workers to CPUs of their own, or not.
    pub fn with_pinned_workers(mut self, pin: bool) -> Runtime {
        self.pin_workers = pin;
        self
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
            .get_or_init(|| match Workers::per_core(self.runtime.load().pin_workers) {
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

    /// The runtime requests start on now, as a reference count of this thread's: every
    /// worker cloning the runtime's own count per request would write the same memory (see
    /// [`crate::shard`]). A reload is seen at the thread's next request; an idle worker lets
    /// go of the old runtime within [`FORGET_EVERY`] (see [`forget_cached_runtime_forever`]).
    pub fn runtime_here(&self) -> Arc<Here> {
        let current = self.runtime.load();
        CACHED_RUNTIME.with(|cached| {
            let mut cached = cached.borrow_mut();
            match &*cached {
                Some(here) if Arc::ptr_eq(&here.runtime, &*current) => Arc::clone(here),
                _ => {
                    let fresh = Arc::new(Here::new(Arc::clone(&current)));
                    *cached = Some(Arc::clone(&fresh));
                    fresh
                }
            }
        })
    }

    /// Swap in a new runtime (reload). Connections stay open; requests in flight finish on the
    /// old one, whose health checkers stop once the last of them is done.
    pub fn install(&self, runtime: Runtime) {
        runtime.start_health_checks();
        if let Some(Some(workers)) = self.workers.get() {
            workers.pin(runtime.pin_workers);
        }
        self.guard.update(&runtime.limits);
        self.runtime.store(Arc::new(runtime));
        self.metrics.reloads_ok.fetch_add(1, Ordering::Relaxed);
    }

    /// A fresh request id: a per-process prefix and a counter, short enough to read out on the
    /// phone to an operator.
    pub fn next_request_id(&self) -> Arc<str> {
        let n = self.next_id.local().fetch_add(1, Ordering::Relaxed);
        request_id(&self.id_prefix, n * SHARDS as u64 + crate::shard::index() as u64 + 1)
    }
}

/// One thread's hold on a runtime: the runtime, and copies of its routes made by this thread
/// (a request keeps its route's names, reference counts that every worker would otherwise
/// write; allocated here, they sit in this thread's own memory pages).
pub struct Here {
    runtime: Arc<Runtime>,
    routes: Vec<RouteInfo>,
}

impl Here {
    fn new(runtime: Arc<Runtime>) -> Here {
        let routes = runtime
            .router
            .infos()
            .map(|r| RouteInfo { name: Arc::from(&*r.name), upstream: Arc::from(&*r.upstream), sensitive: r.sensitive })
            .collect();
        Here { runtime, routes }
    }

    /// The route for `host` (lowercase, no port) and `path`, with its place in the router
    /// (see [`Router::position`]).
    pub fn find_route(&self, host: Option<&str>, path: &str) -> Option<(usize, &RouteInfo)> {
        let at = self.runtime.router.position(host, path)?;
        Some((at, self.routes.get(at)?))
    }
}

impl std::ops::Deref for Here {
    type Target = Runtime;
    fn deref(&self) -> &Runtime {
        &self.runtime
    }
}

thread_local! {
    /// This thread's hold on the runtime it last served a request on.
    static CACHED_RUNTIME: RefCell<Option<Arc<Here>>> = const { RefCell::new(None) };
}

/// How often a worker lets go of the runtime it keeps.
pub const FORGET_EVERY: Duration = Duration::from_secs(2);

/// Let go of this thread's runtime every [`FORGET_EVERY`]: a worker that serves no request
/// after a reload must not keep the old runtime (and its health checks) alive. Spawned on
/// each worker's runtime.
pub async fn forget_cached_runtime_forever() {
    let mut every = tokio::time::interval(FORGET_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        CACHED_RUNTIME.with(|cached| cached.borrow_mut().take());
    }
}

/// `format!("{prefix}-{n:x}")` without the formatting machinery, written on the stack and
/// copied once, into the `Arc` the request keeps: it runs once per request.
fn request_id(prefix: &str, n: u64) -> Arc<str> {
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
    let mut buf = [0u8; 64];
    let at = prefix.len();
    // The prefix (6 hex digits as the proxy makes it), '-' and up to 16 digits; a prefix too
    // long for the buffer takes the formatted way.
    if at + 1 + digits > buf.len() {
        return Arc::from(format!("{prefix}-{n:x}"));
    }
    buf[..at].copy_from_slice(prefix.as_bytes());
    buf[at] = b'-';
    for i in 0..digits {
        buf[at + digits - i] = b"0123456789abcdef"[((n >> (i * 4)) & 0xf) as usize];
    }
    // SAFETY: a `str`, then ASCII: the bytes are UTF-8 (validating them cost ~100
    // instructions per request).
    Arc::from(unsafe { std::str::from_utf8_unchecked(&buf[..at + 1 + digits]) })
}

#[cfg(test)]
mod runtime_here_tests {
    use super::*;
    use rampart_core::{NullSink, StageMode};

    fn runtime() -> Runtime {
        let pipeline = Pipeline::new(Vec::new(), StageMode::default());
        Runtime::new(Vec::new(), Vec::new(), pipeline, Limits::default(), ClientIdentity::default(), false).unwrap()
    }

    #[tokio::test]
    async fn a_thread_keeps_its_reference_until_a_reload_or_the_forget_tick() {
        let proxy = Proxy::new(runtime(), Arc::new(NullSink));
        let first = proxy.runtime_here();
        assert!(Arc::ptr_eq(&first, &proxy.runtime_here()), "the same reference, not a new one per request");
        assert!(Arc::ptr_eq(&first.runtime, &proxy.runtime()));
        proxy.install(runtime());
        let second = proxy.runtime_here();
        assert!(Arc::ptr_eq(&second.runtime, &proxy.runtime()), "the reload was not seen");
        assert!(!Arc::ptr_eq(&first.runtime, &second.runtime));
        // The old runtime is held only by the request that still has it.
        drop(second);
        assert_eq!(Arc::strong_count(&first.runtime), 1);
        CACHED_RUNTIME.with(|cached| cached.borrow_mut().take());
        assert_eq!(Arc::strong_count(&proxy.runtime()), 2, "this test and the proxy, no thread's copy");
    }
}

#[cfg(test)]
mod request_id_tests {
    #[test]
    fn request_ids_are_the_prefix_and_the_counter_in_hex() {
        for n in [0u64, 1, 9, 10, 15, 16, 255, 256, 0x1234_abcd, u64::MAX] {
            assert_eq!(&*super::request_id("0a1b2c", n), format!("0a1b2c-{n:x}"));
            let long = "p".repeat(60);
            assert_eq!(&*super::request_id(&long, n), format!("{long}-{n:x}"));
        }
    }
}
