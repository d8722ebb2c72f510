//! Events into the tracker: the flood detector's mode changes, the guards' detections, bans
//! and refused connections.

use rampart_core::Event;

use super::{Inner, BAN_ENTRIES};
use crate::model::{mode_level, EntryKind, VectorKind};
use crate::time::Timestamp;

impl Inner {
    /// Take in one event: mode changes and detections open or extend an incident; bans and
    /// refused connections count in the open one.
    pub(super) fn event(&mut self, event: &Event) {
        match event {
            Event::ModeChange { at, from, to, reason, fingerprints } => {
                let at = Timestamp::from(*at);
                self.roll(at.secs());
                let level = mode_level(to);
                self.mode = level;
                self.cur.mode = self.cur.mode.max(level);
                if level > 0 && self.open.is_none() {
                    self.open_at(at, format!("flood detector: mode {from} -> {to}: {reason}"), false);
                } else if let Some(b) = self.open.as_mut() {
                    b.note(at, EntryKind::Mitigation, format!("mitigation mode {from} -> {to}: {reason}"));
                }
                if let Some(b) = self.open.as_mut() {
                    b.last_activity = at;
                    if level > 0 {
                        b.vector(VectorKind::Flood, at, None);
                        for f in fingerprints.iter().take(5) {
                            b.vector(VectorKind::Flood, at, Some(f));
                        }
                    }
                    self.dirty = true;
                }
            }
            Event::Detection { at, stage, pattern, identity, route, volume, response, .. } => {
                let at = Timestamp::from(*at);
                self.roll(at.secs());
                let what = format!("{stage}: {pattern} on {route} ({volume}); answer: {response}");
                if self.open.is_none() {
                    self.open_at(at, what.clone(), false);
                }
                if let Some(b) = self.open.as_mut() {
                    let kind = VectorKind::of_pattern(pattern);
                    let first = !b
                        .incident
                        .vectors
                        .iter()
                        .any(|v| v.kind == kind && v.details.iter().any(|d| d.starts_with(*pattern)));
                    b.vector(kind, at, Some(&format!("{pattern} by {identity} on {route}")));
                    if first {
                        b.note(at, EntryKind::Detection, what);
                    }
                    b.last_activity = at;
                    self.dirty = true;
                }
            }
            Event::Ban { at, client, until, reason } => {
                let Some(b) = self.open.as_mut() else { return };
                let at = Timestamp::from(*at);
                b.incident.scale.bans += 1;
                b.mitigation("ban", "ban", true);
                b.source(*client);
                if b.incident.scale.bans <= BAN_ENTRIES {
                    let secs = until.duration_since(at.into_system()).map(|d| d.as_secs()).unwrap_or(0);
                    b.note(at, EntryKind::Mitigation, format!("ban of {client} for {secs} s: {reason}"));
                }
                b.last_activity = at;
                self.dirty = true;
            }
            Event::ConnectionRefused { client, reason, .. } => {
                let Some(b) = self.open.as_mut() else { return };
                b.incident.scale.refused_connections += 1;
                b.mitigation(reason, "drop", true);
                b.source(*client);
                self.dirty = true;
            }
            // Decisions are counted from the logging hook, which also sees the WAF's rule ids;
            // counting them here too would count each twice.
            _ => {}
        }
    }
}
