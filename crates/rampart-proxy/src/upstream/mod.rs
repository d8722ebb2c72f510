//! Upstream pools: several servers per pool, round-robin or least-connections, keep-alive
//! connection reuse (hyper's pooled client), active health checks and passive ejection.

mod health;
mod server;

pub use health::spawn_health_checks;
pub use server::{InFlight, ServerState};

use crate::admission::{Admission, AdmissionSettings};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::body::ProxyBody;
use crate::settings::{Balance, UpstreamSettings};

/// The HTTP client one pool uses: keep-alive connections, reused across requests.
pub type UpstreamClient = Client<HttpConnector, ProxyBody>;

/// One upstream pool.
pub struct Pool {
    pub settings: UpstreamSettings,
    pub servers: Vec<Arc<ServerState>>,
    pub client: UpstreamClient,
    /// How many requests the pool takes at once, and who goes first.
    pub admission: Arc<Admission>,
    next: AtomicUsize,
}

impl Pool {
    pub fn new(settings: UpstreamSettings) -> Arc<Pool> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build(connector);
        let servers = settings.servers.iter().map(|addr| Arc::new(ServerState::new(*addr))).collect();
        let mut limits = AdmissionSettings::default();
        if let Some(max) = settings.max_in_flight {
            limits.max = max.max(1);
            limits.min = limits.min.min(limits.max);
        }
        let admission = Arc::new(Admission::new(limits));
        Arc::new(Pool { settings, servers, client, admission, next: AtomicUsize::new(0) })
    }

    /// Pick a server: among the usable ones (healthy and not ejected), by the pool's balance.
    /// When none is usable, any server is tried rather than failing outright: a health check
    /// that is wrong must not take the site down.
    pub fn pick(&self) -> Option<Arc<ServerState>> {
        if self.servers.is_empty() {
            return None;
        }
        let usable: Vec<&Arc<ServerState>> = self.servers.iter().filter(|s| s.usable()).collect();
        let candidates: Vec<&Arc<ServerState>> =
            if usable.is_empty() { self.servers.iter().collect() } else { usable };
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let chosen = match self.settings.balance {
            Balance::RoundRobin => candidates[start % candidates.len()],
            Balance::LeastConn => {
                // Rotate the starting point so that ties spread instead of piling on server 0.
                let n = candidates.len();
                (0..n)
                    .map(|i| candidates[(start + i) % n])
                    .min_by_key(|s| s.in_flight())
                    .unwrap_or(candidates[0])
            }
        };
        Some(Arc::clone(chosen))
    }

    /// Servers usable now.
    pub fn healthy_count(&self) -> usize {
        self.servers.iter().filter(|s| s.usable()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
