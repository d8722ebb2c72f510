//! The end of a drill: what the attack's requests met, what the legitimate users saw — as a
//! table for people or JSON for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::slow::SlowSummary;
use super::tally::{Counts, Latency, Summary};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub target: String,
    /// How the sources were made and how many.
    pub sources: String,
    pub connections: usize,
    /// Seconds the attack ran.
    pub elapsed_s: f64,
    /// Attack requests per second achieved.
    pub requests_per_s: f64,
    /// The attack's requests (empty for `slow` and `calm`).
    pub attack: Summary,
    /// The attack's outcomes by kind of request (`inject`: by payload family).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_kind: BTreeMap<String, Counts>,
    /// `slow` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow: Option<SlowSummary>,
    /// `None` with `--no-probe`.
    pub probe: Option<ProbeReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// Who the probe was (source, headers, cookies named, not their values).
    pub who: String,
    /// Passed (2xx/3xx) requests, in percent of the probe's requests.
    pub success_pct: f64,
    pub summary: Summary,
}

impl ProbeReport {
    pub fn new(who: String, summary: Summary) -> ProbeReport {
        ProbeReport { who, success_pct: summary.pct(summary.counts.passed), summary }
    }
}

impl Report {
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    pub fn table(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "rampart drill {} -> {}", self.scenario, self.target);
        let _ = writeln!(o, "  {}, {} connections, {:.1} s", self.sources, self.connections, self.elapsed_s);
        if self.attack.requests > 0 {
            let _ = writeln!(o, "\nattack: {} requests, {:.0} req/s", group(self.attack.requests), self.requests_per_s);
            outcomes(&mut o, &self.attack);
            for (kind, c) in &self.by_kind {
                let pct = |n: u64| n as f64 * 100.0 / c.total().max(1) as f64;
                let _ = writeln!(o, "  {kind:<12}{:>12} requests: blocked {:.1}%, passed {:.1}%", group(c.total()), pct(c.blocked), pct(c.passed));
            }
        }
        if let Some(s) = &self.slow {
            let _ = writeln!(o, "\nslow connections: {} opened, {} refused", group(s.opened), group(s.refused));
            let _ = writeln!(o, "  held to the end  {:>10}", group(s.held));
            let _ = writeln!(o, "  cut by target    {:>10}", group(s.cut));
            if let Some(l) = &s.cut_after_ms {
                let _ = writeln!(o, "  cut after        p50 {:.0} ms  p95 {:.0} ms  max {:.0} ms", l.p50, l.p95, l.max);
            }
        }
        if let Some(p) = &self.probe {
            let _ = writeln!(o, "\nlegitimate-user probe ({}): {:.2}% success of {}", p.who, p.success_pct, group(p.summary.requests));
            outcomes(&mut o, &p.summary);
            if !p.summary.slowest.is_empty() {
                let list: Vec<String> = p.summary.slowest.iter().map(|s| format!("{:.0} ms at {:.1} s", s.latency_ms, s.at_s)).collect();
                let _ = writeln!(o, "  slowest: {}", list.join(", "));
            }
            if !p.summary.earned.is_empty() {
                let list: Vec<String> = p
                    .summary
                    .earned
                    .iter()
                    .map(|e| format!("{} at {:.1} s in {:.0} ms", if e.ahead { "ahead" } else { "met" }, e.at_s, e.took_ms))
                    .collect();
                let _ = writeln!(o, "  clearances earned: {}", list.join(", "));
            }
        }
        o
    }
}

fn outcomes(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "  {:<12}{:>12}{:>9}", "outcome", "count", "share");
    for (name, n) in s.counts.rows() {
        let _ = writeln!(o, "  {:<12}{:>12}{:>8.2}%", name, group(n), s.pct(n));
    }
    if !s.other_statuses.is_empty() {
        let list: Vec<String> = s.other_statuses.iter().map(|(k, v)| format!("{k} x{}", group(*v))).collect();
        let _ = writeln!(o, "  other statuses: {}", list.join(", "));
    }
    if s.counts.errors > 0 {
        let _ = writeln!(o, "  errors: connect {}, timeout {}, reset {}", group(s.errors.connect), group(s.errors.timeout), group(s.errors.reset));
    }
    if let Some(l) = &s.latency_ms {
        latency(o, l);
    }
}

fn latency(o: &mut String, l: &Latency) {
    let _ = writeln!(o, "  latency      p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms", l.p50, l.p95, l.p99, l.max);
}

/// `1234567` as `1,234,567`.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
    }
}
