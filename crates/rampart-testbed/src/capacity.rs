//! The simulated capacity limit for flood trials, and the load gauge that
//! lets tests count (never time) what it did.
//!
//! With `max_concurrent = Some(n)` a request waits for one of `n` permits
//! before anything else happens; with `work_delay = Some(d)` it then holds the
//! permit for `d` before its handler runs. `n / d` is the app's capacity:
//! 8 permits × 10 ms ≈ 800 requests/s. Excess requests queue (unbounded, as in
//! a naive app server): that queue is what a flood grows and what the shield
//! in front is there to keep short.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

/// What the testbed is doing right now, and its high-water mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadSnapshot {
    /// Requests being worked on now (holding a permit, if there is a limit).
    pub in_flight: usize,
    /// The most requests ever worked on at once since the testbed was built.
    pub peak_in_flight: usize,
    /// Requests answered so far (not counting `/healthz`).
    pub served: u64,
}

/// The limit and the counters behind [`LoadSnapshot`].
#[derive(Debug, Default)]
pub(crate) struct Capacity {
    permits: Option<Arc<Semaphore>>,
    delay: Option<Duration>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    served: AtomicU64,
}

impl Capacity {
    /// A limit of `max_concurrent` permits (none when `None`), each held for
    /// `work_delay`.
    pub fn new(max_concurrent: Option<usize>, work_delay: Option<Duration>) -> Capacity {
        Capacity {
            permits: max_concurrent.map(|n| Arc::new(Semaphore::new(n))),
            delay: work_delay.filter(|d| !d.is_zero()),
            ..Capacity::default()
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> LoadSnapshot {
        LoadSnapshot {
            in_flight: self.in_flight.load(Ordering::Relaxed),
            peak_in_flight: self.peak.load(Ordering::Relaxed),
            served: self.served.load(Ordering::Relaxed),
        }
    }
}

/// Middleware: wait for a permit, simulate the work, run the handler.
pub(crate) async fn limit(State(capacity): State<Arc<Capacity>>, request: Request, next: Next) -> Response {
    // The semaphore is never closed, so `acquire` only fails if it were; then
    // serve without a permit rather than fail the request.
    let _permit = match &capacity.permits {
        Some(sem) => Arc::clone(sem).acquire_owned().await.ok(),
        None => None,
    };
    let now = capacity.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
    capacity.peak.fetch_max(now, Ordering::AcqRel);
    // Decrements even if the client goes away and this future is dropped.
    let _in_flight = InFlight(&capacity);
    if let Some(delay) = capacity.delay {
        tokio::time::sleep(delay).await;
    }
    let response = next.run(request).await;
    capacity.served.fetch_add(1, Ordering::Relaxed);
    response
}

struct InFlight<'a>(&'a Capacity);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_delay_is_no_delay() {
        let c = Capacity::new(Some(3), Some(Duration::ZERO));
        assert!(c.delay.is_none());
        assert_eq!(c.permits.as_ref().map(|s| s.available_permits()), Some(3));
        assert_eq!(c.snapshot(), LoadSnapshot::default());
    }
}
