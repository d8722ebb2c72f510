//! [`WalkDetector`]: id enumeration over record pages (`/contacts/{id}`), per identity and
//! across every identity without a class, in fixed memory.
//!
//! A `seen` sketch marks (identity, id) and (everyone, id) pairs in the window. A view is a
//! *step* when the id next to it (id − 1 or id + 1) was already seen by the same identity (a
//! sequential walk) or, for the route-wide count, by anyone (a walk split over many sources:
//! each source takes a few ids, together they go 1, 2, 3, …). Browsing people open scattered
//! records and rarely step; a scraper steps at nearly every view.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rampart_state::{BudgetError, KeyHash, SlidingWindow};

use crate::exfil_settings::EnumerationSettings;
use crate::login_state::derive;

/// What one view changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Walk {
    /// Distinct ids this identity viewed in the window.
    pub ids: f64,
    /// This identity's steps in the window.
    pub steps: f64,
    /// Steps across every identity without a class (0 for class members).
    pub steps_all: f64,
}

/// One route's enumeration counts.
pub struct WalkDetector {
    seen: SlidingWindow,
    counts: SlidingWindow,
    start: Instant,
    /// End of the route-wide lockdown, nanoseconds after `start` (0: none).
    lockdown_until: AtomicU64,
}

impl WalkDetector {
    pub fn new(bytes: usize, window: Duration, now: Instant) -> Result<WalkDetector, BudgetError> {
        Ok(WalkDetector {
            seen: SlidingWindow::with_budget(bytes / 3 * 2, window, now)?,
            counts: SlidingWindow::with_budget(bytes / 3, window, now)?,
            start: now,
            lockdown_until: AtomicU64::new(0),
        })
    }

    pub fn memory_bytes(&self) -> usize {
        self.seen.memory_bytes() + self.counts.memory_bytes()
    }

    /// The id in `path`, when it is `{prefix}{id}{suffix}` with a decimal id.
    pub fn id_of(settings: &EnumerationSettings, path: &str) -> Option<u64> {
        let rest = path.strip_prefix(settings.prefix.as_str())?.strip_suffix(settings.suffix.as_str())?;
        if rest.is_empty() || rest.len() > 19 || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest.parse().ok()
    }

    /// Count a view of `id` by `identity`; `public` when the identity has no class.
    pub fn view(&self, identity: KeyHash, id: u64, public: bool, now: Instant) -> Walk {
        let me = identity.value();
        let mine = |id: u64| derive(b"walk:mine", &[me, id]);
        let all = |id: u64| derive(b"walk:all", &[id]);
        let (ids_key, steps_key, all_key) = (derive(b"walk:ids", &[me]), derive(b"walk:steps", &[me]), derive(b"walk:steps-all", &[]));
        let near = |key: &dyn Fn(u64) -> KeyHash| {
            let before = id.checked_sub(1).is_some_and(|p| self.seen.count(key(p), now).weighted > 0.0);
            before || self.seen.count(key(id.saturating_add(1)), now).weighted > 0.0
        };
        let stepped = near(&mine);
        let first = self.seen.observe(mine(id), 1, now);
        let mut walk = Walk { ids: 0.0, steps: 0.0, steps_all: 0.0 };
        if first.current == 1 && first.previous == 0 {
            walk.ids = self.counts.observe(ids_key, 1, now).weighted;
            walk.steps = if stepped { self.counts.observe(steps_key, 1, now).weighted } else { self.counts.count(steps_key, now).weighted };
        } else {
            walk.ids = self.counts.count(ids_key, now).weighted;
            walk.steps = self.counts.count(steps_key, now).weighted;
        }
        if public {
            let stepped_all = near(&all);
            let first_all = self.seen.observe(all(id), 1, now);
            walk.steps_all = if stepped_all && first_all.current == 1 && first_all.previous == 0 {
                self.counts.observe(all_key, 1, now).weighted
            } else {
                self.counts.count(all_key, now).weighted
            };
        }
        walk
    }

    /// Whether identities without a class are refused the id pages at `now`.
    pub fn locked(&self, now: Instant) -> bool {
        self.nanos(now) < self.lockdown_until.load(Ordering::Relaxed)
    }

    /// Refuse them until `now + hold`; true when the lockdown was not on.
    pub fn lock(&self, now: Instant, hold: Duration) -> bool {
        let until = self.nanos(now).saturating_add(u64::try_from(hold.as_nanos()).unwrap_or(u64::MAX));
        self.lockdown_until.fetch_max(until, Ordering::Relaxed) <= self.nanos(now)
    }

    fn nanos(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.start).as_nanos()).unwrap_or(u64::MAX).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EnumerationSettings {
        EnumerationSettings { prefix: "/contacts/".into(), suffix: String::new(), max_ids: 100, max_steps: 20, max_steps_all: 20, per: Duration::from_secs(600) }
    }

    #[test]
    fn ids_are_read_from_the_path() {
        let s = settings();
        assert_eq!(WalkDetector::id_of(&s, "/contacts/42"), Some(42));
        assert_eq!(WalkDetector::id_of(&s, "/contacts/"), None);
        assert_eq!(WalkDetector::id_of(&s, "/contacts/4a"), None);
        let json = EnumerationSettings { prefix: "/api/contacts/".into(), suffix: ".json".into(), ..s };
        assert_eq!(WalkDetector::id_of(&json, "/api/contacts/7.json"), Some(7));
    }

    #[test]
    fn a_walk_steps_and_browsing_does_not() {
        let now = Instant::now();
        let w = WalkDetector::new(1 << 20, Duration::from_secs(600), now).unwrap();
        let me = KeyHash::of_bytes(b"me");
        for id in [5, 900, 33, 4000, 12] {
            assert_eq!(w.view(me, id, true, now).steps, 0.0);
        }
        let walk: Vec<_> = (100..110).map(|id| w.view(me, id, true, now)).collect();
        assert_eq!((walk[9].steps, walk[9].ids), (9.0, 15.0));
        // Split over sources: each takes one id of a run; the route-wide count steps.
        let split: Vec<_> = (2000..2010u64).map(|id| w.view(KeyHash::of_u64(id), id, true, now)).collect();
        assert_eq!((split[9].steps, split[9].steps_all), (0.0, 18.0));
        // Viewing the same id again is not a new step.
        assert_eq!(w.view(me, 105, true, now).steps, 9.0);
    }
}
