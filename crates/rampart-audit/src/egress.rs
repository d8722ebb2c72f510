//! Egress per route: what each sensitive route sent out in one interval, by identity class,
//! written as one `egress` record per route per interval.
//!
//! The tally is bounded: at most [`MAX_ROUTES`] routes and [`MAX_CLASSES`] classes per route
//! are kept apart; the rest are added to `(other)`. A route once seen gets a record every
//! interval, zero included, so that `rampart audit assess` has a baseline of quiet intervals
//! too, and a record at all says the shield was up and counting.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::record::{unix_ms, Record};

/// Routes kept apart; more are added to `(other)`.
pub const MAX_ROUTES: usize = 64;
/// Classes kept apart per route; more are added to `(other)`.
pub const MAX_CLASSES: usize = 16;
/// Where routes and classes past the bounds are counted.
pub const OTHER: &str = "(other)";

/// Requests, bytes and records of one route (or one class of it) in one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Volume {
    pub requests: u64,
    pub bytes: u64,
    /// Records the exfiltration guard counted (responses it did not count add nothing).
    pub records: u64,
    /// Requests by an unverified identity: the public class without a verified subject.
    pub unverified: u64,
}

impl Volume {
    fn add(&mut self, other: &Volume) {
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.records += other.records;
        self.unverified += other.unverified;
    }

    fn to_json(self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("requests".into(), self.requests.into());
        m.insert("bytes".into(), self.bytes.into());
        m.insert("records".into(), self.records.into());
        m.insert("unverified".into(), self.unverified.into());
        m
    }
}

/// The running interval's counts.
#[derive(Debug)]
pub struct EgressTally {
    since: SystemTime,
    routes: BTreeMap<String, BTreeMap<String, Volume>>,
}

impl EgressTally {
    /// An empty tally whose first interval starts at `now`.
    pub fn new(now: SystemTime) -> EgressTally {
        EgressTally { since: now, routes: BTreeMap::new() }
    }

    /// Count one response of `route` to a request of `class`.
    pub fn observe(&mut self, route: &str, class: &str, v: Volume) {
        let route = if self.routes.contains_key(route) || self.routes.len() < MAX_ROUTES { route } else { OTHER };
        let classes = self.routes.entry(route.to_string()).or_default();
        let class = if classes.contains_key(class) || classes.len() < MAX_CLASSES { class } else { OTHER };
        match classes.get_mut(class) {
            Some(total) => total.add(&v),
            None => {
                classes.insert(class.to_string(), v);
            }
        }
    }

    /// Close the interval at `now`: one `egress` record per route seen so far (zero counts
    /// included), and a new interval from `now`.
    pub fn close(&mut self, now: SystemTime) -> Vec<Record> {
        let (from, to) = (unix_ms(self.since), unix_ms(now));
        self.since = now;
        let mut out = Vec::with_capacity(self.routes.len());
        for (route, classes) in self.routes.iter_mut() {
            let mut total = Volume::default();
            let mut by_class = Map::new();
            for (class, v) in classes.iter_mut() {
                total.add(v);
                by_class.insert(class.clone(), Value::Object(v.to_json()));
                *v = Volume::default();
            }
            let mut body = total.to_json();
            body.insert("route".into(), route.clone().into());
            body.insert("from".into(), from.into());
            body.insert("to".into(), to.into());
            body.insert("by_class".into(), Value::Object(by_class));
            out.push(Record { kind: "egress".into(), at_ms: to, body });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn v(bytes: u64) -> Volume {
        Volume { requests: 1, bytes, records: 2, unverified: 1 }
    }

    #[test]
    fn intervals_sum_by_class_and_keep_quiet_routes() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1000);
        let mut t = EgressTally::new(t0);
        t.observe("contacts", "public", v(100));
        t.observe("contacts", "public", v(50));
        t.observe("contacts", "staff", Volume { requests: 1, bytes: 10, records: 0, unverified: 0 });
        let recs = t.close(t0 + Duration::from_secs(60));
        assert_eq!(recs.len(), 1);
        let b = &recs[0].body;
        assert_eq!(
            (b["requests"].as_u64(), b["bytes"].as_u64(), b["unverified"].as_u64()),
            (Some(3), Some(160), Some(2))
        );
        assert_eq!(b["by_class"]["public"]["bytes"].as_u64(), Some(150));
        assert_eq!((b["from"].as_u64(), b["to"].as_u64()), (Some(1_000_000), Some(1_060_000)));
        // The next interval: the route is still there, with zeros.
        let recs = t.close(t0 + Duration::from_secs(120));
        assert_eq!((recs.len(), recs[0].body["bytes"].as_u64()), (1, Some(0)));
    }

    #[test]
    fn routes_and_classes_are_bounded() {
        let mut t = EgressTally::new(UNIX_EPOCH);
        for i in 0..MAX_ROUTES + 10 {
            t.observe(&format!("r{i}"), "public", v(1));
        }
        for i in 0..MAX_CLASSES + 10 {
            t.observe("r0", &format!("c{i}"), v(1));
        }
        let recs = t.close(UNIX_EPOCH + Duration::from_secs(60));
        assert_eq!(recs.len(), MAX_ROUTES + 1);
        let other = recs.iter().find(|r| r.body["route"] == OTHER).unwrap();
        assert_eq!(other.body["requests"].as_u64(), Some(10));
        let r0 = recs.iter().find(|r| r.body["route"] == "r0").unwrap();
        assert_eq!(r0.body["by_class"].as_object().unwrap().len(), MAX_CLASSES + 1);
    }
}
