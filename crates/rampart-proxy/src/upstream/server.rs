//! One upstream server's live state: health, in-flight requests, passive ejection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Health and load of one server, shared by the request path and the health checker.
pub struct ServerState {
    pub addr: SocketAddr,
    healthy: AtomicBool,
    in_flight: AtomicUsize,
    consecutive_failures: AtomicU32,
    /// Milliseconds since `epoch` until which the server is ejected (0: not ejected).
    ejected_until_ms: AtomicU64,
    epoch: Instant,
}

/// Counts one request in flight until dropped (least-connections balancing).
pub struct InFlight(Arc<ServerState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ServerState {
    pub fn new(addr: SocketAddr) -> ServerState {
        ServerState {
            addr,
            healthy: AtomicBool::new(true),
            in_flight: AtomicUsize::new(0),
            consecutive_failures: AtomicU32::new(0),
            ejected_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Healthy by the active checks and not passively ejected.
    pub fn usable(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && self.ejected_until_ms.load(Ordering::Relaxed) <= self.now_ms()
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    /// A request to this server failed (connect error, timeout): after `after` in a row it is
    /// ejected for `eject_for`.
    pub fn record_failure(&self, after: u32, eject_for: Duration) {
        let n = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if after > 0 && n >= after {
            let until = self.now_ms() + eject_for.as_millis() as u64;
            self.ejected_until_ms.store(until, Ordering::Relaxed);
            self.consecutive_failures.store(0, Ordering::Relaxed);
            tracing::warn!(server = %self.addr, "upstream server ejected after {n} consecutive failures");
        }
    }

    pub fn record_success(&self) {
        if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
            self.consecutive_failures.store(0, Ordering::Relaxed);
        }
    }
}
