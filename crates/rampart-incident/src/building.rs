//! An incident while it is open: the stored model plus the bounded accumulators (distinct
//! sources, heavy networks, legitimate users' latency) it is summarised from.

use std::net::IpAddr;
use std::time::Duration;

use crate::latency::GroupsAcc;
use crate::model::{
    mode_name, EntryKind, Groups, Incident, MitigationCount, Point, PrefixCount, Reporter, Scale, Series, Status,
    TimelineEntry, Vector, VectorKind,
};
use crate::sketch::{prefix_of, prefix_text, DistinctCount, TopK};
use crate::time::Timestamp;

/// Timeline entries an incident keeps; later ones are counted, not kept.
pub const MAX_TIMELINE: usize = 200;
/// Points a series keeps before pairs merge.
pub const MAX_POINTS: usize = 600;
/// Details a vector keeps.
const MAX_DETAILS: usize = 20;
/// Distinct (stage, action) mitigation rows (stage names are a small fixed set; refusal
/// reasons too, but bounded all the same).
const MAX_MITIGATIONS: usize = 64;

/// An open incident.
pub(crate) struct Building {
    pub incident: Incident,
    sources: DistinctCount,
    prefixes: TopK<IpAddr>,
    top_k: usize,
    pub during: GroupsAcc,
    /// When the last detection, mode change, ban or WAF burst was seen.
    pub last_activity: Timestamp,
    /// The unix second the next series point stands for.
    next_sec: u64,
    /// Requests of the current (partial) step when the step is longer than a second.
    pending: Point,
    pending_secs: u64,
}

impl Building {
    pub fn new(id: String, at: Timestamp, trigger: String, manual: bool, reporter: Reporter, top_k: usize) -> Building {
        let incident = Incident {
            id,
            status: Status::Open,
            opened_at: at,
            closed_at: None,
            trigger,
            manual,
            peak_mode: "normal".into(),
            reporter,
            timeline: Vec::new(),
            timeline_dropped: 0,
            scale: Scale::default(),
            vectors: Vec::new(),
            mitigations: Vec::new(),
            impact: Default::default(),
            series: Series { start: Timestamp(at.secs() * 1000), step_secs: 1, points: Vec::new() },
        };
        Building {
            incident,
            sources: DistinctCount::default(),
            prefixes: TopK::new(top_k.max(1) * 4),
            top_k,
            during: GroupsAcc::default(),
            last_activity: at,
            next_sec: at.secs(),
            pending: Point::default(),
            pending_secs: 0,
        }
    }

    /// Start the series (and the gap filling) at unix second `sec`, before the opening: the
    /// minute that led to it.
    pub fn start_series_at(&mut self, sec: u64) {
        self.incident.series.start = Timestamp(sec * 1000);
        self.next_sec = sec;
    }

    /// Add a timeline entry (dropped, and counted, past [`MAX_TIMELINE`]).
    pub fn note(&mut self, at: Timestamp, kind: EntryKind, text: impl Into<String>) {
        if self.incident.timeline.len() >= MAX_TIMELINE {
            self.incident.timeline_dropped += 1;
            return;
        }
        self.incident.timeline.push(TimelineEntry { at, kind, text: text.into() });
    }

    /// Attribute something to a vector; true when the vector is new to this incident.
    pub fn vector(&mut self, kind: VectorKind, at: Timestamp, detail: Option<&str>) -> bool {
        let vectors = &mut self.incident.vectors;
        let (v, new) = match vectors.iter().position(|v| v.kind == kind) {
            Some(i) => (&mut vectors[i], false),
            None => {
                vectors.push(Vector { kind, first_seen: at, last_seen: at, count: 0, details: Vec::new() });
                let last = vectors.len() - 1;
                (&mut vectors[last], true)
            }
        };
        v.count += 1;
        v.last_seen = v.last_seen.max(at);
        if let Some(d) = detail {
            if v.details.len() < MAX_DETAILS && !v.details.iter().any(|x| x == d) {
                v.details.push(d.to_string());
            }
        }
        new
    }

    /// Count one mitigation; true when it is the first of its kind.
    pub fn mitigation(&mut self, stage: &str, action: &str, enforced: bool) -> bool {
        let rows = &mut self.incident.mitigations;
        if let Some(m) = rows.iter_mut().find(|m| m.stage == stage && m.action == action && m.detect_only != enforced) {
            m.count += 1;
            return false;
        }
        if rows.len() < MAX_MITIGATIONS {
            rows.push(MitigationCount { stage: stage.into(), action: action.into(), count: 1, detect_only: !enforced });
        }
        true
    }

    /// A source seen (a request or a refused connection).
    pub fn source(&mut self, client: IpAddr) {
        self.sources.insert(client);
        self.prefixes.add(&prefix_of(client), 1);
    }

    /// A finished second of traffic (gaps are filled with empty seconds, at most an hour).
    pub fn second(&mut self, sec: u64, p: Point) {
        if sec < self.next_sec {
            return;
        }
        let gap = (sec - self.next_sec).min(3600);
        for i in 0..gap {
            self.push_second(sec - gap + i, Point { mode: p.mode, ..Point::default() });
        }
        self.push_second(sec, p);
        self.next_sec = sec + 1;
    }

    fn push_second(&mut self, sec: u64, p: Point) {
        let scale = &mut self.incident.scale;
        if p.requests > scale.peak_rps {
            scale.peak_rps = p.requests;
            scale.peak_at = Some(Timestamp(sec * 1000));
        }
        let level = p.mode;
        if crate::model::mode_level(&self.incident.peak_mode) < level {
            self.incident.peak_mode = mode_name(level).into();
        }
        let step = self.incident.series.step_secs;
        self.pending.requests += p.requests;
        self.pending.refused += p.refused;
        self.pending.mode = self.pending.mode.max(p.mode);
        self.pending_secs += 1;
        if self.pending_secs >= step {
            let points = &mut self.incident.series.points;
            points.push(std::mem::take(&mut self.pending));
            self.pending_secs = 0;
            if points.len() >= MAX_POINTS {
                let merged: Vec<Point> = points
                    .chunks(2)
                    .map(|c| Point {
                        requests: c.iter().map(|p| p.requests).sum(),
                        refused: c.iter().map(|p| p.refused).sum(),
                        mode: c.iter().map(|p| p.mode).max().unwrap_or(0),
                    })
                    .collect();
                *points = merged;
                self.incident.series.step_secs *= 2;
            }
        }
    }

    /// The model as of now: scale and impact summarised from the accumulators, the timeline
    /// in time order.
    pub fn snapshot(&self, before: &Groups) -> Incident {
        let mut inc = self.incident.clone();
        inc.scale.distinct_sources = self.sources.estimate();
        inc.scale.top_prefixes = self
            .prefixes
            .top(self.top_k)
            .into_iter()
            .map(|c| PrefixCount { prefix: prefix_text(c.key), count: c.count, error: c.error })
            .collect();
        inc.impact.before = before.clone();
        inc.impact.during = self.during.stats();
        inc.timeline.sort_by_key(|e| e.at);
        inc.vectors.sort_by_key(|v| v.first_seen);
        inc.mitigations.sort_by_key(|m| std::cmp::Reverse(m.count));
        inc
    }

    /// Close at `at`, after `calm` of calm: the peak and the end go in the timeline.
    pub fn close(&mut self, at: Timestamp, calm: Duration, before: &Groups) -> Incident {
        if let Some(peak) = self.incident.scale.peak_at {
            let text = format!(
                "peak: {} requests/s ({} total, {} refused, mode {})",
                self.incident.scale.peak_rps,
                self.incident.scale.total_requests,
                self.incident.scale.refused_requests,
                self.incident.peak_mode
            );
            self.note(peak, EntryKind::Peak, text);
        }
        let bans = self.incident.scale.bans;
        if bans > 0 {
            self.note(at, EntryKind::Note, format!("{bans} client(s) banned in all"));
        }
        // The end entry always goes in, past the cap if need be.
        self.incident.timeline.push(TimelineEntry {
            at,
            kind: EntryKind::End,
            text: format!(
                "closed after {} s of calm: flood mode normal, no new detection, ban or WAF burst",
                calm.as_secs()
            ),
        });
        self.incident.status = Status::Closed;
        self.incident.closed_at = Some(at);
        self.snapshot(before)
    }
}
