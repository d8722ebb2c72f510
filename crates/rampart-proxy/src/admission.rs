//! Priority admission: how many requests an upstream pool gets at once, and who goes first.
//!
//! Each pool has an adaptive concurrency limit found from its latency, gradient-style (after
//! Netflix's concurrency-limits `Gradient2`): a slow average of response times is the
//! baseline, a fast one the present; their ratio (with a tolerance) scales the limit down when
//! the upstream starts queueing and lets it grow by `√limit` when it does not. An upstream
//! answering 503 (its own load shedding) halves the growth and cuts the limit by 10%.
//!
//! Requests are admitted by lane while the shield is defending (the flood detector's mode is
//! not normal, or an operator pinned it); in calm every request is admitted and only counted.
//! The public may fill [`PUBLIC_SHARE`] of the limit and clearance holders [`CLEARED_SHARE`];
//! priority classes (staff) may fill all of it and a headroom above. So when a flood fills its share, staff still find free slots — they never
//! queue behind it — and the lowest lane is shed first, at once, with a 503.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rampart_core::Identity;

/// The share of the limit anonymous traffic may fill.
pub const PUBLIC_SHARE: f64 = 0.7;
/// The share of the limit clearance holders may fill.
pub const CLEARED_SHARE: f64 = 0.85;

/// Who a request is, for admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lane {
    /// A `[[priority]]` class (staff).
    Priority = 0,
    /// Passed a challenge.
    Cleared = 1,
    /// Everyone else.
    Public = 2,
}

impl Lane {
    pub fn of(identity: &Identity) -> Lane {
        if !identity.is_public() {
            Lane::Priority
        } else if identity.clearance.is_some() {
            Lane::Cleared
        } else {
            Lane::Public
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Priority => "priority",
            Lane::Cleared => "cleared",
            Lane::Public => "public",
        }
    }
}

/// Bounds of the adaptive limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmissionSettings {
    pub initial: u32,
    pub min: u32,
    pub max: u32,
    /// How much slower than the baseline the present may be before the limit shrinks.
    pub tolerance: f64,
}

impl Default for AdmissionSettings {
    fn default() -> AdmissionSettings {
        AdmissionSettings { initial: 64, min: 8, max: 2048, tolerance: 1.5 }
    }
}

struct Gradient {
    limit: f64,
    /// Fast and slow moving averages of the response time, in microseconds.
    short: f64,
    long: f64,
    samples: u64,
    last_update: Instant,
}

/// One pool's admission control.
pub struct Admission {
    settings: AdmissionSettings,
    limit: AtomicU32,
    in_flight: AtomicU32,
    gradient: Mutex<Gradient>,
    shed: [AtomicU64; 3],
}

/// A slot taken: released when dropped. Keep it until the response body has been sent.
pub struct Permit {
    admission: Arc<Admission>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How often the limit moves at most.
const UPDATE_EVERY: Duration = Duration::from_millis(100);

impl Admission {
    pub fn new(settings: AdmissionSettings) -> Admission {
        let initial = settings.initial.clamp(settings.min, settings.max);
        Admission {
            settings,
            limit: AtomicU32::new(initial),
            in_flight: AtomicU32::new(0),
            gradient: Mutex::new(Gradient {
                limit: f64::from(initial),
                short: 0.0,
                long: 0.0,
                samples: 0,
                last_update: Instant::now(),
            }),
            shed: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    /// The limit now.
    pub fn limit(&self) -> u32 {
        self.limit.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Requests shed in `lane` so far.
    pub fn shed(&self, lane: Lane) -> u64 {
        self.shed[lane as usize].load(Ordering::Relaxed)
    }

    /// The most requests `lane` may have in flight now.
    pub fn cap(&self, lane: Lane) -> u32 {
        let limit = f64::from(self.limit());
        let cap = match lane {
            Lane::Priority => limit + (limit / 4.0).max(4.0),
            Lane::Cleared => limit * CLEARED_SHARE,
            Lane::Public => limit * PUBLIC_SHARE,
        };
        (cap.floor() as u32).max(1)
    }

    /// Take a slot for `lane`, or `None` when its share is full (the request is shed). Without
    /// `pressure` (no attack declared) nothing is shed: the slot is counted and the limit keeps
    /// learning, but a busy calm day is served as a plain proxy would serve it.
    pub fn try_acquire(self: &Arc<Self>, lane: Lane, pressure: bool) -> Option<Permit> {
        if !pressure {
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            return Some(Permit { admission: Arc::clone(self) });
        }
        let cap = self.cap(lane);
        let mut current = self.in_flight.load(Ordering::Acquire);
        loop {
            if current >= cap {
                self.shed[lane as usize].fetch_add(1, Ordering::Relaxed);
                return None;
            }
            match self.in_flight.compare_exchange_weak(current, current + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(Permit { admission: Arc::clone(self) }),
                Err(now) => current = now,
            }
        }
    }

    /// Feed a response time back (`overloaded`: the upstream shed the request itself).
    pub fn record(&self, rtt: Duration, overloaded: bool, now: Instant) {
        let Some(mut g) = self.gradient.try_lock() else { return };
        let us = rtt.as_secs_f64() * 1e6;
        if g.samples == 0 {
            g.short = us;
            g.long = us;
        } else {
            g.short += 0.1 * (us - g.short);
            // The baseline follows a faster upstream at once and a slower one only slowly.
            g.long = if us < g.long { g.long + 0.05 * (us - g.long) } else { g.long + 0.002 * (us - g.long) };
        }
        g.samples += 1;
        if overloaded {
            g.limit = (g.limit * 0.9).max(f64::from(self.settings.min));
        } else if now.duration_since(g.last_update) >= UPDATE_EVERY && g.samples >= 10 {
            g.last_update = now;
            let gradient = ((self.settings.tolerance * g.long) / g.short.max(1.0)).clamp(0.5, 1.0);
            let target = g.limit * gradient + g.limit.sqrt();
            g.limit = (0.8 * g.limit + 0.2 * target).clamp(f64::from(self.settings.min), f64::from(self.settings.max));
        } else {
            return;
        }
        self.limit.store(g.limit.round() as u32, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `seconds` of responses taking `rtt_ms`, 100 a second, on a clock that `now` carries.
    fn settled(a: &Admission, now: &mut Instant, rtt_ms: u64, seconds: u64) {
        for _ in 0..seconds * 10 {
            *now += UPDATE_EVERY;
            for _ in 0..10 {
                a.record(Duration::from_millis(rtt_ms), false, *now);
            }
        }
    }

    #[test]
    fn the_public_fills_its_share_and_staff_still_get_in() {
        let a = Arc::new(Admission::new(AdmissionSettings { initial: 100, ..AdmissionSettings::default() }));
        let public: Vec<_> = std::iter::from_fn(|| a.try_acquire(Lane::Public, true)).take(1000).collect();
        assert_eq!(public.len(), 70);
        assert!(a.try_acquire(Lane::Public, true).is_none());
        assert_eq!(a.shed(Lane::Public), 2);
        let cleared: Vec<_> = std::iter::from_fn(|| a.try_acquire(Lane::Cleared, true)).take(1000).collect();
        assert_eq!(cleared.len(), 15);
        let staff: Vec<_> = std::iter::from_fn(|| a.try_acquire(Lane::Priority, true)).take(1000).collect();
        assert_eq!(staff.len(), 40, "staff fill the limit and a headroom above it");
        drop(public);
        assert_eq!(a.in_flight(), 55);
        assert!(a.try_acquire(Lane::Public, true).is_some());
        // In calm nothing is shed, whatever the lane's share.
        let calm: Vec<_> = std::iter::from_fn(|| a.try_acquire(Lane::Public, false)).take(500).collect();
        assert_eq!(calm.len(), 500);
    }

    #[test]
    fn the_limit_shrinks_when_latency_rises_and_grows_back_when_it_falls() {
        let a = Admission::new(AdmissionSettings { initial: 200, ..AdmissionSettings::default() });
        let mut now = Instant::now();
        settled(&a, &mut now, 10, 5);
        let calm = a.limit();
        assert!(calm >= 200, "no queueing: the limit does not shrink ({calm})");
        settled(&a, &mut now, 60, 3);
        let loaded = a.limit();
        assert!(loaded < calm * 3 / 4, "queueing upstream: {calm} -> {loaded}");
        settled(&a, &mut now, 10, 10);
        assert!(a.limit() > loaded, "recovered: {loaded} -> {}", a.limit());
        assert!(a.limit() <= AdmissionSettings::default().max);
    }

    #[test]
    fn an_upstream_shedding_load_cuts_the_limit() {
        let a = Admission::new(AdmissionSettings { initial: 100, ..AdmissionSettings::default() });
        let now = Instant::now();
        for _ in 0..10 {
            a.record(Duration::from_millis(1), true, now);
        }
        assert!(a.limit() <= 35, "{}", a.limit());
        for _ in 0..100 {
            a.record(Duration::from_millis(1), true, now);
        }
        assert_eq!(a.limit(), AdmissionSettings::default().min);
    }

    #[test]
    fn lanes_follow_the_identity() {
        let mut id = Identity::default();
        assert_eq!(Lane::of(&id), Lane::Public);
        id.clearance = Some("k".into());
        assert_eq!(Lane::of(&id), Lane::Cleared);
        id.class = "staff".into();
        assert_eq!(Lane::of(&id), Lane::Priority);
    }
}
