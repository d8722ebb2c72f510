//! The load engine every request-sending scenario runs on: `connections` tasks, each opening a
//! connection from the next source, sending up to `per_connection` requests on it, then moving
//! on to the next source — until the deadline or the request budget, whichever comes first.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request};

use super::client::{Body, Connection};
use super::sources::Sources;
use super::tally::{Counts, Outcome, Tally};

/// The drill's User-Agent, so that a target's logs say plainly what the traffic was.
pub const DRILL_AGENT: &str = concat!("rampart-drill/", env!("CARGO_PKG_VERSION"));

/// What one request of a scenario is, before the headers every request gets.
#[derive(Debug, Clone)]
pub struct Shape {
    pub method: Method,
    /// Path and query, already percent-encoded.
    pub path: String,
    /// An `application/x-www-form-urlencoded` body.
    pub form: Option<String>,
}

impl Shape {
    pub fn get(path: String) -> Shape {
        Shape { method: Method::GET, path, form: None }
    }
}

/// A scenario's requests: the `n`th request of the drill.
pub trait Requests: Send + Sync {
    fn nth(&self, n: u64) -> Shape;

    /// What became of the `n`th request, for a scenario that reports by kind of request.
    /// Default: nothing.
    fn observe(&self, _n: u64, _outcome: Outcome) {}

    /// Outcomes by kind of request (`inject`: by payload family). Default: none.
    fn by_kind(&self) -> Vec<(&'static str, Counts)> {
        Vec::new()
    }
}

/// How hard and how long.
#[derive(Debug, Clone)]
pub struct Load {
    pub to: SocketAddr,
    pub authority: String,
    pub sources: Sources,
    pub connections: usize,
    pub per_connection: u64,
    pub max_requests: u64,
    pub duration: Duration,
    /// Requests per second across all connections; `None`: as fast as they go.
    pub rate: Option<u32>,
    pub timeout: Duration,
}

/// State every worker shares.
struct Run {
    load: Load,
    started: Instant,
    deadline: Instant,
    /// Requests claimed so far (each claim is one request sent or one failed connect).
    claimed: AtomicU64,
    /// Connections claimed so far: connection `c` comes from source `c mod sources`.
    connections: AtomicU64,
    /// Nanoseconds after `started` of the next paced slot.
    next_slot: AtomicU64,
}

impl Run {
    /// Claim the next request, waiting for its slot when paced; `None` when the drill is over.
    async fn claim(&self) -> Option<u64> {
        if Instant::now() >= self.deadline {
            return None;
        }
        let n = self.claimed.fetch_add(1, Ordering::Relaxed);
        if n >= self.load.max_requests {
            return None;
        }
        if let Some(rate) = self.load.rate {
            let step = 1_000_000_000 / u64::from(rate.max(1));
            let at = self.started + Duration::from_nanos(self.next_slot.fetch_add(step, Ordering::Relaxed));
            if at >= self.deadline {
                return None;
            }
            tokio::time::sleep_until(at.into()).await;
        }
        Some(n)
    }

    fn request(&self, shape: Shape, source: u64) -> Request<Body> {
        let mut b = Request::builder().method(shape.method).uri(shape.path.as_str()).header(HOST, self.load.authority.as_str()).header(USER_AGENT, DRILL_AGENT);
        if let Some(ip) = self.load.sources.forwarded(source) {
            b = b.header("x-forwarded-for", ip.to_string());
        }
        let body = match shape.form {
            Some(form) => {
                b = b.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Bytes::from(form)
            }
            None => Bytes::new(),
        };
        // Paths are checked when the drill is planned and payloads are percent-encoded, so the
        // builder does not fail; if it ever did, the plain request for `/` goes instead.
        b.body(Full::new(body)).unwrap_or_else(|_| Request::new(Full::new(Bytes::new())))
    }
}

/// Run `requests` under `load`, counting into `tally`. Returns how long the attack ran; sets
/// `finished` when it is over (the probe stops then).
pub async fn run(load: Load, requests: Arc<dyn Requests>, tally: Arc<Tally>, finished: Arc<AtomicBool>) -> Duration {
    let started = Instant::now();
    let run = Arc::new(Run {
        deadline: started + load.duration,
        started,
        load,
        claimed: AtomicU64::new(0),
        connections: AtomicU64::new(0),
        next_slot: AtomicU64::new(0),
    });
    let workers: Vec<_> = (0..run.load.connections)
        .map(|_| {
            let (run, requests, tally) = (Arc::clone(&run), Arc::clone(&requests), Arc::clone(&tally));
            tokio::spawn(async move { worker(&run, &*requests, &tally).await })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    finished.store(true, Ordering::Relaxed);
    started.elapsed()
}

async fn worker(run: &Run, requests: &dyn Requests, tally: &Tally) {
    // A request claimed but not sent because the server had closed the connection it was
    // meant for: it goes on the next connection instead.
    let mut pending: Option<u64> = None;
    loop {
        // A claim only when none is pending (`Option::or` would claim, and lose, one anyway).
        let first = match pending.take() {
            Some(n) => n,
            None => match run.claim().await {
                Some(n) => n,
                None => return,
            },
        };
        let c = run.connections.fetch_add(1, Ordering::Relaxed);
        let source = c % run.load.sources.count();
        let started = Instant::now();
        let mut conn = match Connection::open(run.load.to, run.load.sources.bind(source), run.load.timeout).await {
            Ok(conn) => conn,
            Err(e) => {
                tally.record(Outcome::Error(e), started.elapsed());
                // A target that refuses connections answers at once: pause so that the drill
                // does not spin through its budget counting refusals.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut n = first;
        for i in 0..run.load.per_connection {
            if i > 0 {
                let Some(next) = run.claim().await else { return };
                n = next;
                if !conn.ready(run.load.timeout).await {
                    pending = Some(n);
                    break;
                }
            }
            let (outcome, latency) = conn.exchange(run.request(requests.nth(n), source), run.load.timeout).await;
            tally.record(outcome, latency);
            requests.observe(n, outcome);
            if matches!(outcome, Outcome::Error(_)) {
                break;
            }
        }
    }
}

/// Everything but the unreserved characters (RFC 3986) is escaped, space included, so that
/// the result is valid both in a query and in a form body.
const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encode `s` for a query value or a form field.
pub fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, ESCAPED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(percent_encode("' OR 1=1--"), "%27%20OR%201%3D1--");
    }
}
