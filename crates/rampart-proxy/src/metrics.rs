//! Prometheus metrics: requests, verdicts by stage, upstream latency, connections.
//!
//! Counters are atomics; labelled families are maps that only grow by the (small, bounded) set
//! of stage names, verdict kinds and upstream names in the configuration, never by anything a
//! client sends.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::shard::Sharded;

const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A latency histogram with fixed buckets, one copy per thread (see [`crate::shard`]).
#[derive(Default)]
pub struct Histogram {
    cells: Sharded<HistogramCells>,
}

#[derive(Default)]
struct HistogramCells {
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// One increment in the first bucket that holds `d` (buckets are made cumulative when
    /// rendered, not on the request path).
    pub fn observe(&self, d: Duration) {
        let cells = self.cells.local();
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|le| secs <= *le) {
            cells.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        cells.count.fetch_add(1, Ordering::Relaxed);
        cells.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn sum(&self, read: impl Fn(&HistogramCells) -> &AtomicU64) -> u64 {
        self.cells.iter().map(|c| read(c).load(Ordering::Relaxed)).sum()
    }
}

/// Every metric the proxy keeps.
#[derive(Default)]
pub struct Metrics {
    /// Responses by status class (1xx..5xx), index 1..=5.
    responses: Sharded<[AtomicU64; 6]>,
    verdicts: RwLock<BTreeMap<(String, &'static str, bool), AtomicU64>>,
    upstream_latency: RwLock<BTreeMap<String, Arc<Histogram>>>,
    upstream_errors: RwLock<BTreeMap<String, AtomicU64>>,
    shed: RwLock<BTreeMap<&'static str, AtomicU64>>,
    h2_abuse: RwLock<BTreeMap<&'static str, AtomicU64>>,
    moved: RwLock<BTreeMap<&'static str, AtomicU64>>,
    pub connections_accepted: AtomicU64,
    refused: RwLock<BTreeMap<&'static str, AtomicU64>>,
    pub framing_rejected: AtomicU64,
    /// WebSocket tunnels opened and closed (see crate::tunnel).
    pub websockets_opened: AtomicU64,
    pub websockets_closed: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
}

fn bump<K: Ord + Clone>(map: &RwLock<BTreeMap<K, AtomicU64>>, key: K) {
    if let Some(c) = map.read().get(&key) {
        c.fetch_add(1, Ordering::Relaxed);
        return;
    }
    map.write().entry(key).or_default().fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub fn response(&self, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize;
        self.responses.local()[class].fetch_add(1, Ordering::Relaxed);
    }

    pub fn verdict(&self, stage: &str, kind: &'static str, enforced: bool) {
        bump(&self.verdicts, (stage.to_string(), kind, enforced));
    }

    pub fn refused(&self, reason: &'static str) {
        bump(&self.refused, reason);
    }

    /// The latency histogram of `upstream`, for a pool to keep: observing through it takes
    /// no lock and no name look-up. The same one across reloads.
    pub fn latency_histogram(&self, upstream: &str) -> Arc<Histogram> {
        if let Some(h) = self.upstream_latency.read().get(upstream) {
            return Arc::clone(h);
        }
        Arc::clone(self.upstream_latency.write().entry(upstream.to_string()).or_default())
    }

    pub fn upstream_error(&self, upstream: &str) {
        bump(&self.upstream_errors, upstream.to_string());
    }

    /// An HTTP/2 connection closed for abuse (rapid resets, oversized header blocks, protocol
    /// violations), by kind.
    pub fn h2_abuse(&self, kind: &'static str) {
        bump(&self.h2_abuse, kind);
    }

    /// A new connection moved, under pressure, to the worker of its identity's lane (`priority`,
    /// `cleared`) once its first request head showed who it is.
    pub fn moved(&self, worker: &'static str) {
        bump(&self.moved, worker);
    }

    /// A request shed by admission, by lane.
    pub fn shed(&self, lane: &'static str) {
        bump(&self.shed, lane);
    }

    pub fn responses_total(&self) -> u64 {
        self.responses.iter().flatten().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Render in the Prometheus text exposition format. `open_connections` and `gauges`
    /// (name, help, value) come from the caller: they are read, not counted.
    pub fn render(&self, open_connections: usize, gauges: &[(String, String, f64)]) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(out, "# HELP rampart_responses_total Responses sent, by status class.");
        let _ = writeln!(out, "# TYPE rampart_responses_total counter");
        for class in 1..=5 {
            let _ = writeln!(
                out,
                "rampart_responses_total{{class=\"{class}xx\"}} {}",
                self.responses.iter().map(|r| r[class].load(Ordering::Relaxed)).sum::<u64>()
            );
        }
        let _ = writeln!(out, "# HELP rampart_verdicts_total Disruptive verdicts, by stage, kind and enforcement.");
        let _ = writeln!(out, "# TYPE rampart_verdicts_total counter");
        for ((stage, kind, enforced), c) in self.verdicts.read().iter() {
            let _ = writeln!(
                out,
                "rampart_verdicts_total{{stage=\"{stage}\",verdict=\"{kind}\",enforced=\"{enforced}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP rampart_upstream_latency_seconds Time to the upstream's response head.");
        let _ = writeln!(out, "# TYPE rampart_upstream_latency_seconds histogram");
        for (name, h) in self.upstream_latency.read().iter() {
            let mut cumulative = 0;
            for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative += h.sum(|c| &c.buckets[i]);
                let _ = writeln!(out, "rampart_upstream_latency_seconds_bucket{{upstream=\"{name}\",le=\"{le}\"}} {cumulative}");
            }
            let count = h.sum(|c| &c.count);
            let _ = writeln!(out, "rampart_upstream_latency_seconds_bucket{{upstream=\"{name}\",le=\"+Inf\"}} {count}");
            let _ = writeln!(
                out,
                "rampart_upstream_latency_seconds_sum{{upstream=\"{name}\"}} {}",
                h.sum(|c| &c.sum_micros) as f64 / 1e6
            );
            let _ = writeln!(out, "rampart_upstream_latency_seconds_count{{upstream=\"{name}\"}} {count}");
        }
        let _ = writeln!(out, "# HELP rampart_upstream_errors_total Upstream connect errors and timeouts.");
        let _ = writeln!(out, "# TYPE rampart_upstream_errors_total counter");
        for (name, c) in self.upstream_errors.read().iter() {
            let _ = writeln!(out, "rampart_upstream_errors_total{{upstream=\"{name}\"}} {}", c.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP rampart_shed_total Requests shed by admission (the upstream's limit), by lane.");
        let _ = writeln!(out, "# TYPE rampart_shed_total counter");
        for (lane, c) in self.shed.read().iter() {
            let _ = writeln!(out, "rampart_shed_total{{lane=\"{lane}\"}} {}", c.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP rampart_connections_open Client connections open now.");
        let _ = writeln!(out, "# TYPE rampart_connections_open gauge");
        let _ = writeln!(out, "rampart_connections_open {open_connections}");
        let _ = writeln!(out, "# HELP rampart_connections_accepted_total Client connections admitted.");
        let _ = writeln!(out, "# TYPE rampart_connections_accepted_total counter");
        let _ = writeln!(out, "rampart_connections_accepted_total {}", self.connections_accepted.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP rampart_connections_refused_total Connections refused by the guard, by cap.");
        let _ = writeln!(out, "# TYPE rampart_connections_refused_total counter");
        for (reason, c) in self.refused.read().iter() {
            let _ = writeln!(out, "rampart_connections_refused_total{{reason=\"{reason}\"}} {}", c.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP rampart_h2_abuse_total HTTP/2 connections closed for abuse, by kind.");
        let _ = writeln!(out, "# TYPE rampart_h2_abuse_total counter");
        for (kind, c) in self.h2_abuse.read().iter() {
            let _ = writeln!(out, "rampart_h2_abuse_total{{kind=\"{kind}\"}} {}", c.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP rampart_connections_moved_total Connections moved under pressure to the worker of their lane, by worker.");
        let _ = writeln!(out, "# TYPE rampart_connections_moved_total counter");
        for (worker, c) in self.moved.read().iter() {
            let _ = writeln!(out, "rampart_connections_moved_total{{worker=\"{worker}\"}} {}", c.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP rampart_framing_rejected_total Requests refused for ambiguous framing.");
        let _ = writeln!(out, "# TYPE rampart_framing_rejected_total counter");
        let _ = writeln!(out, "rampart_framing_rejected_total {}", self.framing_rejected.load(Ordering::Relaxed));
        let (opened, closed) = (self.websockets_opened.load(Ordering::Relaxed), self.websockets_closed.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP rampart_websockets_open WebSocket tunnels open now.");
        let _ = writeln!(out, "# TYPE rampart_websockets_open gauge");
        let _ = writeln!(out, "rampart_websockets_open {}", opened.saturating_sub(closed));
        let _ = writeln!(out, "# HELP rampart_websockets_total WebSocket tunnels opened.");
        let _ = writeln!(out, "# TYPE rampart_websockets_total counter");
        let _ = writeln!(out, "rampart_websockets_total {opened}");
        let _ = writeln!(out, "# HELP rampart_reloads_total Configuration reloads, by result.");
        let _ = writeln!(out, "# TYPE rampart_reloads_total counter");
        let _ = writeln!(out, "rampart_reloads_total{{result=\"ok\"}} {}", self.reloads_ok.load(Ordering::Relaxed));
        let _ = writeln!(out, "rampart_reloads_total{{result=\"refused\"}} {}", self.reloads_failed.load(Ordering::Relaxed));
        // A gauge's name may carry labels (`name{upstream="app"}`): HELP and TYPE name the
        // metric, once before its first sample (samples of one metric come together).
        let mut last = "";
        for (name, help, value) in gauges {
            let metric = name.split_once('{').map_or(name.as_str(), |(m, _)| m);
            if metric != last {
                let _ = writeln!(out, "# HELP {metric} {help}");
                let _ = writeln!(out, "# TYPE {metric} gauge");
                last = metric;
            }
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.response(200);
        m.response(429);
        m.verdict("rate_limit", "throttle", true);
        m.latency_histogram("app").observe(Duration::from_millis(3));
        m.latency_histogram("app").observe(Duration::from_millis(30));
        let text = m.render(7, &[("rampart_state_bytes".into(), "Bytes.".into(), 42.0)]);
        assert!(text.contains("rampart_responses_total{class=\"2xx\"} 1"));
        assert!(text.contains("rampart_verdicts_total{stage=\"rate_limit\",verdict=\"throttle\",enforced=\"true\"} 1"));
        assert!(text.contains("rampart_upstream_latency_seconds_bucket{upstream=\"app\",le=\"0.005\"} 1"));
        assert!(text.contains("rampart_upstream_latency_seconds_bucket{upstream=\"app\",le=\"0.05\"} 2"));
        assert!(text.contains("rampart_upstream_latency_seconds_count{upstream=\"app\"} 2"));
        assert!(text.contains("rampart_connections_open 7"));
        assert!(text.contains("rampart_state_bytes 42"));
    }

    #[test]
    fn labelled_gauges_have_one_help_and_type_under_the_metric_name() {
        let gauge = |name: &str, v: f64| (name.to_string(), "Slots.".to_string(), v);
        let text = Metrics::default()
            .render(0, &[gauge("rampart_upstream_in_flight{upstream=\"a\"}", 1.0), gauge("rampart_upstream_in_flight{upstream=\"b\"}", 2.0)]);
        assert_eq!(text.matches("# HELP rampart_upstream_in_flight Slots.\n").count(), 1, "{text}");
        assert_eq!(text.matches("# TYPE rampart_upstream_in_flight gauge\n").count(), 1, "{text}");
        assert!(text.contains("rampart_upstream_in_flight{upstream=\"a\"} 1\nrampart_upstream_in_flight{upstream=\"b\"} 2\n"), "{text}");
        assert!(!text.contains("# HELP rampart_upstream_in_flight{"), "{text}");
    }
}
