//! Upstream pools: several servers per pool, round-robin or least-connections, keep-alive
//! connection reuse (per worker thread: see [`client`]), active health checks and passive
//! ejection.

pub mod client;
mod h1;

pub use h1::read_response_bytes;
mod health;
mod server;

pub use client::{PooledBody, UpstreamError};
pub use health::spawn_health_checks;
pub use server::{InFlight, ServerState};

use crate::admission::{Admission, AdmissionSettings};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::{Request, Response};

use crate::body::ProxyBody;
use crate::forward::ForwardFields;
use crate::metrics::{Histogram, Metrics};
use crate::settings::{Balance, UpstreamSettings};

/// One upstream pool.
pub struct Pool {
    pub settings: UpstreamSettings,
    pub servers: Vec<Arc<ServerState>>,
    /// How many requests the pool takes at once, and who goes first.
    pub admission: Arc<Admission>,
    next: AtomicUsize,
    /// The proxy's latency histogram of this upstream, found once.
    latency: OnceLock<Arc<Histogram>>,
}

impl Pool {
    pub fn new(settings: UpstreamSettings) -> Arc<Pool> {
        let servers = settings.servers.iter().map(|addr| Arc::new(ServerState::new(*addr))).collect();
        let mut limits = AdmissionSettings::default();
        if let Some(max) = settings.max_in_flight {
            limits.max = max.max(1);
            limits.min = limits.min.min(limits.max);
        }
        let admission = Arc::new(Admission::new(limits));
        Arc::new(Pool { settings, servers, admission, next: AtomicUsize::new(0), latency: OnceLock::new() })
    }

    /// Count a response head that took `took`, in `metrics`' histogram of this upstream.
    pub fn observe_latency(&self, metrics: &Metrics, took: Duration) {
        self.latency.get_or_init(|| metrics.latency_histogram(&self.settings.name)).observe(took);
    }

    /// Pick a server: among the usable ones (healthy and not ejected), by the pool's balance.
    /// When none is usable, any server is tried rather than failing outright: a health check
    /// that is wrong must not take the site down.
    /// A reference, not a count: the servers' counts are written by every worker.
    pub fn pick(&self) -> Option<&Arc<ServerState>> {
        let n = self.servers.len();
        if n <= 1 {
            return self.servers.first();
        }
        // No allocation per request: the candidates are walked in place.
        let any_usable = self.servers.iter().any(|s| s.usable());
        let candidate = |s: &&Arc<ServerState>| !any_usable || s.usable();
        let count = if any_usable { self.servers.iter().filter(candidate).count().max(1) } else { n };
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        let chosen = match self.settings.balance {
            Balance::RoundRobin => self.servers.iter().filter(candidate).nth(start),
            // Rotate the starting point so that ties spread instead of piling on server 0.
            Balance::LeastConn => {
                self.servers.iter().filter(candidate).cycle().skip(start).take(count).min_by_key(|s| s.in_flight())
            }
        };
        Some(chosen.unwrap_or(&self.servers[0]))
    }

    /// A request to `server` begins: counted while it lasts when the pool balances by
    /// least connections (the only reader of the count); otherwise not counted at all (two
    /// writes of a line every worker writes, per request).
    pub fn begin(&self, server: &Arc<ServerState>) -> Option<InFlight> {
        (self.settings.balance == Balance::LeastConn).then(|| server.begin())
    }

    /// Send `req` to `server` (one of this pool's), with the proxy's `forwarding` fields after
    /// its own, on a kept-alive connection of this thread's
    /// or a new one within the pool's connect timeout. The client's future itself, not one
    /// around it: a request's future is moved whole at each level it is wrapped in.
    pub fn send(
        &self,
        server: SocketAddr,
        req: Request<ProxyBody>,
        forwarding: Option<ForwardFields>,
    ) -> impl Future<Output = Result<Response<PooledBody>, UpstreamError>> + use<> {
        client::send(server, self.settings.connect_timeout, self.settings.read_timeout, req, forwarding)
    }

    /// Servers usable now.
    pub fn healthy_count(&self) -> usize {
        self.servers.iter().filter(|s| s.usable()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings(balance: Balance, n: usize) -> UpstreamSettings {
        UpstreamSettings {
            name: "app".into(),
            servers: (0..n).map(|i| format!("127.0.0.1:{}", 9100 + i).parse().unwrap()).collect(),
            balance,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            health: None,
            eject_after: 2,
            eject_for: Duration::from_secs(10),
            max_in_flight: None,
            forward_headers: rampart_core::ForwardHeaders::ALL,
        }
    }

    #[tokio::test]
    async fn round_robin_cycles() {
        let pool = Pool::new(settings(Balance::RoundRobin, 3));
        let picks: Vec<u16> = (0..6).map(|_| pool.pick().unwrap().addr.port()).collect();
        assert_eq!(picks, vec![9100, 9101, 9102, 9100, 9101, 9102]);
    }

    #[tokio::test]
    async fn least_conn_prefers_idle_servers() {
        let pool = Pool::new(settings(Balance::LeastConn, 2));
        let busy = Arc::clone(&pool.servers[0]);
        let _a = busy.begin();
        let _b = busy.begin();
        for _ in 0..4 {
            assert_eq!(pool.pick().unwrap().addr.port(), 9101);
        }
    }

    #[tokio::test]
    async fn ejected_servers_are_skipped_until_all_are_down() {
        let pool = Pool::new(settings(Balance::RoundRobin, 2));
        pool.servers[0].record_failure(2, Duration::from_secs(10));
        pool.servers[0].record_failure(2, Duration::from_secs(10));
        assert_eq!(pool.healthy_count(), 1);
        for _ in 0..4 {
            assert_eq!(pool.pick().unwrap().addr.port(), 9101);
        }
        pool.servers[1].set_healthy(false);
        assert!(pool.pick().is_some());
    }
}
