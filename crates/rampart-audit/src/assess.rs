//! The breach assessment behind `rampart audit assess`: did any data leave in a time window?
//!
//! The log is verified first (every checkpoint signature, every record against the rebuilt
//! tree, as [`crate::verify`] does) and read in the same pass; a log that does not verify is
//! not assessed. Then, for the records whose time falls in the window:
//!
//! * **attack answered** — an `access` record of a request the WAF flagged without stopping
//!   it (detection-only) that got a 2xx: *data left* when the response carried a body, *review*
//!   when it was empty. A 2xx to a request another stage flagged (a detect-only rate limit or
//!   login guard) is *review*.
//! * **unverified sensitive access** — a 2xx `access` record of a sensitive route by an
//!   identity the shield cannot name (the public class, no verified subject): *review*.
//! * **exfiltration not stopped** — a `detection` record of the exfiltration guard whose
//!   response was `alert` (detect mode, or `action = "alert"`): *data left* for a response
//!   matching a `never_leave` pattern, *review* for a budget or an id walk.
//! * **egress above baseline** — an `egress` record (one route, one interval) whose bytes per
//!   minute exceed the route's baseline: the `egress` records of the same route before the
//!   window, at least [`Settings::min_baseline`] of them. Above means more than
//!   [`Settings::factor`] times the baseline mean, more than mean + 4 standard deviations, and
//!   more than [`Settings::floor`] bytes per minute: *review*. Rates are taken over at least
//!   the route's usual interval length (the median), so that an interval cut short by a
//!   shutdown does not read as a burst.
//! * **evidence incomplete** — `audit.dropped` records in the window (the queue was full and
//!   records were lost, counted), or a window that starts before the records retention kept:
//!   *review*.
//!
//! The verdict is the worst finding: *data left*, *review needed*, or *no evidence of data
//! leaving*. Every finding names its record, which `rampart audit prove ID` proves.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::AuditError;
use crate::note::NoteVerifier;
use crate::record::StoredRecord;

/// How findings weigh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The evidence does not settle it: someone must look.
    Review,
    /// A response with data went where it should not have.
    DataLeft,
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    NoEvidence,
    ReviewNeeded,
    DataLeft,
}

impl Verdict {
    /// The verdict as the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NoEvidence => "no evidence of data leaving",
            Verdict::ReviewNeeded => "review needed",
            Verdict::DataLeft => "data left",
        }
    }
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// `attack_answered`, `flagged_answered`, `unverified_sensitive_access`,
    /// `exfiltration_not_stopped`, `egress_above_baseline`, `evidence_incomplete`.
    pub kind: &'static str,
    /// The record's ID (`rampart audit prove ID`).
    pub record: u64,
    /// The record's time, ms since the Unix epoch.
    pub at: u64,
    /// One line saying what the record shows.
    pub summary: String,
    /// A signed checkpoint covers the record (else it is provable only after the next one).
    pub signed: bool,
}

/// What the sensitive routes sent out in the window, and their baseline.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteEgress {
    pub route: String,
    /// From the `access` records in the window.
    pub requests: u64,
    pub bytes: u64,
    pub records: u64,
    pub unverified: u64,
    /// `egress` intervals in the window, and the busiest one's bytes per minute.
    pub intervals: u64,
    pub peak_bytes_per_min: f64,
    /// `egress` intervals before the window, and their mean and standard deviation.
    pub baseline_intervals: u64,
    pub baseline_mean_bytes_per_min: f64,
    pub baseline_sd_bytes_per_min: f64,
}

/// Thresholds. [`Settings::default`] is what the command uses.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The window: `from <= at < to`, ms since the Unix epoch.
    pub from: u64,
    pub to: u64,
    /// An interval is above the baseline at more than this times its mean. Default 3.
    pub factor: f64,
    /// ... and above this many bytes per minute. Default 64 KiB.
    pub floor: f64,
    /// Baseline intervals needed to judge a route. Default 10.
    pub min_baseline: usize,
}

impl Settings {
    /// The defaults for the window `from..to`.
    pub fn new(from: u64, to: u64) -> Settings {
        Settings { from, to, factor: 3.0, floor: 65_536.0, min_baseline: 10 }
    }
}

/// The assessment.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub verdict: Verdict,
    pub from: u64,
    pub to: u64,
    /// The log's tree size, the latest checkpoint's size (records from it on are not signed
    /// yet), and the first record retention kept.
    pub log_records: u64,
    pub checkpoint_size: u64,
    pub log_start: u64,
    /// Records in the window, by kind.
    pub window_records: BTreeMap<String, u64>,
    /// Every finding, worst first, then by record.
    pub findings: Vec<Finding>,
    pub egress: Vec<RouteEgress>,
    /// What limits the answer without being evidence (no baseline, unsigned records).
    pub notes: Vec<String>,
}

/// One `egress` interval.
struct Interval {
    seq: u64,
    at: u64,
    bytes: f64,
    minutes: f64,
}

impl Interval {
    /// Bytes per minute, over at least `nominal` minutes: the interval cut short at a shutdown
    /// (a second, say) would otherwise read as a burst.
    fn per_min(&self, nominal: f64) -> f64 {
        self.bytes / self.minutes.max(nominal)
    }
}

/// Verify the log in `dir` and assess the window of `settings`.
pub fn assess(dir: &Path, verifier: &NoteVerifier, settings: &Settings) -> Result<Assessment, AuditError> {
    let mut acc = Accumulator::new(*settings);
    let verified = crate::verify::verify_with(dir, verifier, &[], false, &mut |seq, bytes| acc.read(seq, bytes))?;
    let checkpoint_size = verified.latest.as_ref().map_or(0, |l| l.checkpoint.size);
    Ok(acc.finish(verified.records, checkpoint_size, verified.start))
}

/// Reads records one at a time and keeps only what the assessment needs.
struct Accumulator {
    s: Settings,
    first_at: Option<u64>,
    unreadable: Vec<u64>,
    window_records: BTreeMap<String, u64>,
    findings: Vec<Finding>,
    routes: BTreeMap<String, RouteEgress>,
    baseline: BTreeMap<String, Vec<Interval>>,
    intervals: BTreeMap<String, Vec<Interval>>,
}

impl Accumulator {
    fn new(s: Settings) -> Accumulator {
        Accumulator {
            s,
            first_at: None,
            unreadable: Vec::new(),
            window_records: BTreeMap::new(),
            findings: Vec::new(),
            routes: BTreeMap::new(),
            baseline: BTreeMap::new(),
            intervals: BTreeMap::new(),
        }
    }

    fn read(&mut self, seq: u64, bytes: &[u8]) {
        let Ok(r) = serde_json::from_slice::<StoredRecord>(bytes) else {
            // Verified bytes that are not a record of ours: say so, never skip silently.
            self.unreadable.push(seq);
            return;
        };
        self.first_at.get_or_insert(r.at);
        if r.kind == "egress" {
            self.egress(&r);
        }
        if r.at < self.s.from || r.at >= self.s.to {
            return;
        }
        *self.window_records.entry(r.kind.clone()).or_default() += 1;
        match r.kind.as_str() {
            "access" => self.access(&r),
            "detection" => self.detection(&r),
            "audit.dropped" => {
                let n = u(&r.body, "dropped");
                let summary = format!("{n} records were dropped (the audit queue was full): the evidence has a gap");
                self.find(Severity::Review, "evidence_incomplete", &r, summary);
            }
            _ => {}
        }
    }

    fn find(&mut self, severity: Severity, kind: &'static str, r: &StoredRecord, summary: String) {
        self.findings.push(Finding { severity, kind, record: r.seq, at: r.at, summary, signed: false });
    }

    fn access(&mut self, r: &StoredRecord) {
        let b = &r.body;
        let status = u(b, "status");
        let bytes = u(b, "bytes");
        let ok = (200..300).contains(&status);
        let route = t(b, "route").to_string();
        let what = format!(
            "{} {} (route {route}) from {} [{}] answered {status} with {bytes} bytes",
            t(b, "method"),
            t(b, "path"),
            t(b, "client"),
            who(b),
        );
        if b.get("sensitive").and_then(Value::as_bool) == Some(true) {
            let e = self.routes.entry(route.clone()).or_insert_with(|| RouteEgress { route, ..RouteEgress::default() });
            e.requests += 1;
            e.bytes += bytes;
            e.records += u(b, "records");
            let unverified = b.get("unverified").and_then(Value::as_bool) == Some(true);
            e.unverified += u64::from(unverified);
            if unverified && ok {
                let records = match b.get("records").and_then(Value::as_u64) {
                    Some(n) => format!(", {n} records"),
                    None => String::new(),
                };
                self.find(
                    Severity::Review,
                    "unverified_sensitive_access",
                    r,
                    format!("unverified access: {what}{records}"),
                );
            }
        }
        let flagged: Vec<(String, String)> = b
            .get("flagged")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|f| (t_of(f, "stage").to_string(), t_of(f, "reason").to_string())).collect())
            .unwrap_or_default();
        if !ok || flagged.is_empty() {
            return;
        }
        let stages: Vec<String> = flagged.iter().map(|(s, why)| format!("{s}: {why}")).collect();
        if flagged.iter().any(|(s, _)| s == "waf") {
            let rules: Vec<&str> = b
                .get("rules")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let severity = if bytes > 0 { Severity::DataLeft } else { Severity::Review };
            let summary = format!(
                "attack answered: {what}; matched WAF rules [{}] ({}), not blocked",
                rules.join(", "),
                stages.join("; ")
            );
            self.find(severity, "attack_answered", r, summary);
        } else {
            self.find(
                Severity::Review,
                "flagged_answered",
                r,
                format!("flagged and answered: {what} ({})", stages.join("; ")),
            );
        }
    }

    fn detection(&mut self, r: &StoredRecord) {
        let b = &r.body;
        if t(b, "stage") != "exfiltration" || t(b, "response") != "alert" {
            return;
        }
        let pattern = t(b, "pattern");
        let severity = if pattern == "never_leave" { Severity::DataLeft } else { Severity::Review };
        let summary = format!(
            "exfiltration guard saw {pattern} by {} on {} ({}) and only alerted",
            t(b, "identity"),
            t(b, "route"),
            t(b, "volume")
        );
        self.find(severity, "exfiltration_not_stopped", r, summary);
    }

    fn egress(&mut self, r: &StoredRecord) {
        let b = &r.body;
        let (from, to) = (u(b, "from"), u(b, "to"));
        let minutes = (to.saturating_sub(from) as f64 / 60_000.0).max(1.0 / 60.0);
        let i = Interval { seq: r.seq, at: r.at, bytes: u(b, "bytes") as f64, minutes };
        let route = t(b, "route").to_string();
        if to <= self.s.from {
            self.baseline.entry(route).or_default().push(i);
        } else if r.at < self.s.to {
            self.intervals.entry(route).or_default().push(i);
        }
    }

    fn finish(mut self, records: u64, checkpoint_size: u64, start: u64) -> Assessment {
        let mut notes = Vec::new();
        let intervals = std::mem::take(&mut self.intervals);
        for (route, list) in intervals {
            let base_intervals = self.baseline.get(&route).map(Vec::as_slice).unwrap_or(&[]);
            // The route's usual interval length: the median of all its intervals.
            let mut lengths: Vec<f64> = base_intervals.iter().chain(&list).map(|i| i.minutes).collect();
            lengths.sort_by(f64::total_cmp);
            let nominal = lengths.get(lengths.len() / 2).copied().unwrap_or(1.0);
            let base: Vec<f64> = base_intervals.iter().map(|i| i.per_min(nominal)).collect();
            let base = base.as_slice();
            let (mean, sd) = mean_sd(base);
            let e = self
                .routes
                .entry(route.clone())
                .or_insert_with(|| RouteEgress { route: route.clone(), ..RouteEgress::default() });
            e.intervals = list.len() as u64;
            e.peak_bytes_per_min = list.iter().map(|i| i.per_min(nominal)).fold(0.0, f64::max);
            e.baseline_intervals = base.len() as u64;
            e.baseline_mean_bytes_per_min = mean;
            e.baseline_sd_bytes_per_min = sd;
            if base.len() < self.s.min_baseline {
                notes.push(format!(
                    "route {route}: {} egress intervals before the window, {} needed for a baseline: its volume was not judged",
                    base.len(),
                    self.s.min_baseline
                ));
                continue;
            }
            let limit = (mean * self.s.factor).max(mean + 4.0 * sd).max(self.s.floor);
            for i in list.iter().filter(|i| i.per_min(nominal) > limit) {
                let summary = format!(
                    "route {route} sent {:.0} bytes/min, above its baseline of {mean:.0} bytes/min (sd {sd:.0}, {} intervals; limit {limit:.0})",
                    i.per_min(nominal),
                    base.len()
                );
                self.findings.push(Finding {
                    severity: Severity::Review,
                    kind: "egress_above_baseline",
                    record: i.seq,
                    at: i.at,
                    summary,
                    signed: false,
                });
            }
        }
        if start > 0 && self.first_at.is_some_and(|first| first > self.s.from) {
            let summary = format!(
                "records 0..{start} were removed by retention; the window starts before the oldest record kept"
            );
            self.findings.push(Finding {
                severity: Severity::Review,
                kind: "evidence_incomplete",
                record: start,
                at: self.s.from,
                summary,
                signed: true,
            });
        }
        if !self.unreadable.is_empty() {
            notes.push(format!(
                "{} verified records are not in Rampart's record format (first: {})",
                self.unreadable.len(),
                self.unreadable[0]
            ));
        }
        let unsigned =
            self.findings.iter_mut().filter(|f| f.record >= checkpoint_size).map(|f| f.signed = false).count();
        for f in self.findings.iter_mut().filter(|f| f.record < checkpoint_size) {
            f.signed = true;
        }
        if records > checkpoint_size {
            notes.push(format!(
                "records {checkpoint_size}..{records} are not covered by a signed checkpoint yet ({unsigned} findings among them): they are checked for integrity but provable only after the next checkpoint"
            ));
        }
        self.findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.record.cmp(&b.record)));
        let verdict = match self.findings.first().map(|f| f.severity) {
            None => Verdict::NoEvidence,
            Some(Severity::Review) => Verdict::ReviewNeeded,
            Some(Severity::DataLeft) => Verdict::DataLeft,
        };
        Assessment {
            verdict,
            from: self.s.from,
            to: self.s.to,
            log_records: records,
            checkpoint_size,
            log_start: start,
            window_records: self.window_records,
            findings: self.findings,
            egress: self.routes.into_values().collect(),
            notes,
        }
    }
}

/// Who a record's request came from: the class, the verified subject if any.
fn who(b: &Map<String, Value>) -> String {
    match b.get("subject").and_then(Value::as_str) {
        Some(s) => format!("{} {s}", t(b, "class")),
        None if b.get("cleared").and_then(Value::as_bool) == Some(true) => {
            format!("{}, cleared, unverified", t(b, "class"))
        }
        None => format!("{}, unverified", t(b, "class")),
    }
}

fn u(b: &Map<String, Value>, k: &str) -> u64 {
    b.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn t<'a>(b: &'a Map<String, Value>, k: &str) -> &'a str {
    b.get(k).and_then(Value::as_str).unwrap_or("")
}

fn t_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests;
