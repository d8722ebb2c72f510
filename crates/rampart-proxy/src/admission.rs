//! Priority admission: how many requests an upstream pool gets at once, and who goes first.
//!
//! Each pool has an adaptive concurrency limit found from its latency (after Netflix's
//! concurrency-limits `Gradient2` and BBR's delivery-rate estimate): a slow average of
//! response times is the baseline, the mean of the last 100 ms window the present. When the
//! present runs above the baseline by more than the tolerance in two windows running, the
//! upstream is queueing (in one, it may be the shield's own threads that waited for a CPU),
//! and the limit drops at once to what the upstream delivers at a tolerable latency (Little's law: delivered rate × the
//! tolerable response time); when it does not and the limit is in use, it grows — by half while
//! requests wait and the upstream is as fast as its baseline, by `√limit` when none wait, one
//! at a time when the upstream is slower than its baseline but still tolerable; in
//! quiet times it follows the use down. While far more requests wait than the limit lets in
//! ([`SWAMPED`]: a flood before the detector names it, a crowd), there is nothing to gain from
//! a queue at the upstream too, and staff, who skip the shield's queue, would wait in it; while
//! the shield defends, the public's share of the limit must leave the upstream free slots for
//! the lanes above it. In both cases the limit is held near the knee (what the upstream
//! delivers at about its baseline speed) and grows one at a time. So the limit sits near the upstream's real capacity
//! before a flood arrives, not at whatever a quiet day let it drift to. An upstream answering
//! 503 (its own load shedding) cuts it by 10%.
//!
//! The limit is always held. A request over it waits in the shield, by lane (priority classes
//! first, then clearance holders, then the public), for a slot — not in the upstream's own
//! queue, where a staff request would wait behind every flood request admitted before it.
//! In calm, waiting is how a busy day is served: nothing is refused until a request has waited
//! [`AdmissionSettings::queue_timeout`]. While the shield is defending (the flood detector's
//! mode is not normal, or an operator pinned it) lanes get shares: the public may fill
//! [`PUBLIC_SHARE`] of the limit and clearance holders [`CLEARED_SHARE`]. A public request over
//! its share is shed at once with a 503 (that is the flood); a clearance holder's waits for the
//! next slot below its share, ahead of the public, so that a moment's full house does not cost
//! a browser that proved itself its page; priority classes (staff) may fill all of it and a
//! headroom above in every mode, so they never queue behind a flood.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rampart_core::Identity;
use tokio::sync::oneshot;

use crate::shard::Sharded;

/// The share of the limit anonymous traffic may fill while the shield defends.
pub const PUBLIC_SHARE: f64 = 0.7;
/// The share of the limit clearance holders may fill while the shield defends.
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

/// Bounds of the adaptive limit and of the wait for a slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmissionSettings {
    pub initial: u32,
    pub min: u32,
    pub max: u32,
    /// How much slower than the baseline the present may be before the limit shrinks.
    pub tolerance: f64,
    /// Latency the upstream may add on top of `tolerance` before it counts as queueing, so that
    /// the milliseconds a busy CPU adds to a fast upstream do not read as an overload. Default
    /// 2 ms: on a 2-core machine under wrk, a sub-millisecond nginx reads 1-5 ms at times.
    pub slack: Duration,
    /// How long a request waits for a slot before it is answered 503. Default 5 s.
    pub queue_timeout: Duration,
    /// How many requests may wait for a slot at once; one more is answered 503. Default 4,096.
    pub max_waiting: usize,
}

impl Default for AdmissionSettings {
    fn default() -> AdmissionSettings {
        AdmissionSettings {
            initial: 64,
            min: 8,
            max: 2048,
            tolerance: 1.3,
            slack: Duration::from_millis(2),
            queue_timeout: Duration::from_secs(5),
            max_waiting: 4096,
        }
    }
}

/// The limit's state, moved by [`Admission::record`].
struct Gradient {
    limit: f64,
    /// The present response time (the last window's mean, or a blend of the last few when a
    /// window has few responses) and the baseline, in microseconds.
    short: f64,
    long: f64,
    samples: u64,
    /// The last judged window was slower than tolerable.
    was_slow: bool,
    last_update: Instant,
}

/// One thread's count of the window: responses, the sum of their response times in µs (the
/// window's mean is the upstream's present latency), and the most requests in flight seen.
#[derive(Default)]
struct Window {
    responses: AtomicU32,
    response_us: AtomicU64,
    peak: AtomicU32,
}

/// One pool's admission control.
pub struct Admission {
    settings: AdmissionSettings,
    limit: AtomicU32,
    in_flight: AtomicU32,
    /// The window since the limit last moved, counted per thread (see [`crate::shard`]).
    window: Sharded<Window>,
    /// Copies of the gradient's baseline (`f64` bits) and of when the limit moves next (µs
    /// since `epoch`): a response that neither beats the baseline nor finds the window due
    /// reads these, and leaves the gradient's lock alone (every worker would write it).
    baseline: AtomicU64,
    due_us: AtomicU64,
    epoch: Instant,
    /// Whether the last request admitted came while the shield defends (lane shares apply).
    defending: AtomicBool,
    gradient: Mutex<Gradient>,
    /// Requests waiting for a slot, one queue per lane; `waiting` counts them without the lock.
    queues: Mutex<[VecDeque<oneshot::Sender<Permit>>; 3]>,
    waiting: AtomicUsize,
    shed: [AtomicU64; 3],
}

/// A slot taken: released when dropped. Keep it until the upstream's response head is in.
pub struct Permit {
    admission: Option<Arc<Admission>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(a) = self.admission.take() {
            a.in_flight.fetch_sub(1, Ordering::AcqRel);
            if a.waiting.load(Ordering::Acquire) > 0 {
                a.hand_over();
            }
        }
    }
}

/// Requests waiting, as a multiple of the limit, from which the upstream is held near its knee.
const SWAMPED: f64 = 4.0;
/// How often the limit moves at most.
const UPDATE_EVERY: Duration = Duration::from_millis(100);
/// How fast the baseline follows a slower upstream: over about a minute, whatever the request
/// rate, so that a sustained overload does not become the new normal within the attack.
const BASELINE_RISE: Duration = Duration::from_secs(60);

impl Admission {
    pub fn new(settings: AdmissionSettings) -> Admission {
        let initial = settings.initial.clamp(settings.min, settings.max);
        let epoch = Instant::now();
        Admission {
            settings,
            limit: AtomicU32::new(initial),
            in_flight: AtomicU32::new(0),
            window: Sharded::default(),
            // No baseline yet: the first response sets it.
            baseline: AtomicU64::new(f64::INFINITY.to_bits()),
            due_us: AtomicU64::new(UPDATE_EVERY.as_micros() as u64),
            epoch,
            defending: AtomicBool::new(false),
            gradient: Mutex::new(Gradient {
                limit: f64::from(initial),
                short: 0.0,
                long: 0.0,
                samples: 0,
                was_slow: false,
                last_update: epoch,
            }),
            queues: Mutex::new([VecDeque::new(), VecDeque::new(), VecDeque::new()]),
            waiting: AtomicUsize::new(0),
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

    /// Requests waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Requests shed in `lane` so far.
    pub fn shed(&self, lane: Lane) -> u64 {
        self.shed[lane as usize].load(Ordering::Relaxed)
    }

    /// The most requests `lane` may have in flight now (`defending`: lane shares apply).
    pub fn cap(&self, lane: Lane, defending: bool) -> u32 {
        let limit = f64::from(self.limit());
        let cap = match lane {
            Lane::Priority => limit + (limit / 4.0).max(4.0),
            _ if !defending => limit,
            Lane::Cleared => limit * CLEARED_SHARE,
            Lane::Public => limit * PUBLIC_SHARE,
        };
        (cap.floor() as u32).max(1)
    }

    /// Take a slot for `lane` if its cap has room, without waiting.
    pub fn try_acquire(self: &Arc<Self>, lane: Lane, defending: bool) -> Option<Permit> {
        let cap = self.cap(lane, defending);
        let mut current = self.in_flight.load(Ordering::Acquire);
        loop {
            if current >= cap {
                return None;
            }
            match self.in_flight.compare_exchange_weak(current, current + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(Permit { admission: Some(Arc::clone(self)) }),
                Err(now) => current = now,
            }
        }
    }

    /// Take a slot for `lane`, waiting for one when the limit is reached; `None` when the
    /// request is shed (counted). While `defending`, the public over its share is shed at once;
    /// otherwise, and for clearance holders and priority classes always, a request waits up to
    /// the queue timeout, ahead of every waiting request of a lower lane.
    pub async fn acquire(self: &Arc<Self>, lane: Lane, defending: bool) -> Option<Permit> {
        if self.defending.load(Ordering::Relaxed) != defending {
            self.defending.store(defending, Ordering::Relaxed);
        }
        if let Some(p) = self.try_acquire(lane, defending) {
            return Some(p);
        }
        // While defending, the public over its share is the flood: shed at once. A clearance
        // holder proved it is a browser; it waits for a slot (ahead of the public) like staff.
        if defending && lane == Lane::Public {
            return self.refuse(lane);
        }
        let waiter = {
            let mut queues = self.queues.lock();
            // Again under the lock: a slot freed since the first try finds no waiter to hand
            // itself to (the releaser saw none), so take it here or wait for the next one.
            if let Some(p) = self.try_acquire(lane, defending) {
                return Some(p);
            }
            if self.waiting.load(Ordering::Relaxed) >= self.settings.max_waiting {
                for q in queues.iter_mut() {
                    q.retain(|w| !w.is_closed());
                }
                self.waiting.store(queues.iter().map(VecDeque::len).sum(), Ordering::Release);
                if self.waiting.load(Ordering::Relaxed) >= self.settings.max_waiting {
                    drop(queues);
                    return self.refuse(lane);
                }
            }
            let (tx, rx) = oneshot::channel();
            queues[lane as usize].push_back(tx);
            self.waiting.fetch_add(1, Ordering::AcqRel);
            rx
        };
        // A permit handed over after the timeout fired is dropped with the receiver, which
        // gives the slot back (and on to the next waiter).
        match tokio::time::timeout(self.settings.queue_timeout, waiter).await {
            Ok(Ok(permit)) => Some(permit),
            _ => self.refuse(lane),
        }
    }

    fn refuse(&self, lane: Lane) -> Option<Permit> {
        self.shed[lane as usize].fetch_add(1, Ordering::Relaxed);
        None
    }

    /// A slot came free: give it to the first waiter of the highest lane whose cap has room.
    fn hand_over(self: &Arc<Self>) {
        let defending = self.defending.load(Ordering::Relaxed);
        let mut queues = self.queues.lock();
        for lane in [Lane::Priority, Lane::Cleared, Lane::Public] {
            while !queues[lane as usize].is_empty() {
                let Some(permit) = self.try_acquire(lane, defending) else { break };
                let Some(tx) = queues[lane as usize].pop_front() else { break };
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                match tx.send(permit) {
                    Ok(()) => return,
                    // The waiter gave up (timed out, client gone): take the slot back without
                    // running Permit's drop, which would come back here under the lock.
                    Err(mut permit) => {
                        permit.admission = None;
                        self.in_flight.fetch_sub(1, Ordering::AcqRel);
                    }
                }
            }
        }
    }

    /// Feed a response time back (`overloaded`: the upstream shed the request itself).
    ///
    /// Every response is counted into its thread's window with two atomic adds; the limit
    /// moves at most every [`UPDATE_EVERY`], by the worker that finds the averages free then
    /// (one that finds another updating them leaves it to that one).
    ///
    /// The present latency is the window's mean, not a moving average of the last few
    /// responses: at tens of thousands of responses a second those are the last fraction of a
    /// millisecond, and one scheduling hiccup of a busy host (the shield's own thread waiting
    /// for a CPU) would read as an upstream queueing and cut the limit below what the clients
    /// ask, queueing them in the shield for nothing.
    pub fn record(&self, rtt: Duration, overloaded: bool, now: Instant) {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        let window = self.window.local();
        window.responses.fetch_add(1, Ordering::Relaxed);
        window.response_us.fetch_add(us, Ordering::Relaxed);
        let in_flight = self.in_flight();
        if in_flight > window.peak.load(Ordering::Relaxed) {
            window.peak.fetch_max(in_flight, Ordering::Relaxed);
        }
        let sample = us as f64;
        let since_epoch = u64::try_from(now.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX);
        let due = since_epoch >= self.due_us.load(Ordering::Relaxed);
        if !overloaded && !due && sample >= f64::from_bits(self.baseline.load(Ordering::Relaxed)) {
            return;
        }
        let Some(mut g) = self.gradient.try_lock() else { return };
        // The baseline follows a faster upstream at once, sample by sample (below, per window,
        // a slower one over a minute): it sits among the faster responses.
        if g.samples == 0 {
            g.short = sample;
            g.long = sample;
        } else if sample < g.long {
            g.long += 0.05 * (sample - g.long);
        }
        g.samples += 1;
        self.baseline.store(g.long.to_bits(), Ordering::Relaxed);
        let elapsed = now.saturating_duration_since(g.last_update);
        if !overloaded && elapsed < UPDATE_EVERY {
            return;
        }
        let (min, max) = (f64::from(self.settings.min), f64::from(self.settings.max));
        if overloaded {
            g.limit = (g.limit * 0.9).max(min);
        } else {
            let secs = elapsed.as_secs_f64();
            let (mut window_responses, mut window_us, mut window_peak) = (0u32, 0u64, 0u32);
            for w in self.window.iter() {
                window_responses = window_responses.saturating_add(w.responses.swap(0, Ordering::Relaxed));
                window_us = window_us.saturating_add(w.response_us.swap(0, Ordering::Relaxed));
                window_peak = window_peak.max(w.peak.swap(0, Ordering::Relaxed));
            }
            if window_responses > 0 {
                // Ten responses make a window's mean the present; fewer move it partway.
                let n = f64::from(window_responses);
                g.short += (n / 10.0).min(1.0) * (window_us as f64 / n - g.short);
            }
            if g.short > g.long {
                g.long += (g.short - g.long) * (secs / BASELINE_RISE.as_secs_f64()).min(1.0);
            }
            let slack = self.settings.slack.as_secs_f64() * 1e6;
            let tolerable = self.settings.tolerance * g.long + slack;
            let knee = 1.1 * g.long + slack;
            let limit = g.limit;
            let waiting = self.waiting();
            // In use: half the limit was taken at some point, or requests wait.
            let busy = f64::from(window_peak) * 2.0 >= limit || waiting > 0;
            // Swamped: far more wait than the upstream takes (a flood the detector has not
            // named yet, or a crowd). Letting the upstream queue too would serve no more of
            // them, and staff, who skip the shield's queue, would wait in the upstream's.
            let swamped = waiting as f64 >= SWAMPED * limit;
            // Held near the knee: swamped, or while the shield defends (the public's share of
            // the limit must leave the upstream free slots for the lanes above it).
            let held = swamped || self.defending.load(Ordering::Relaxed);
            let unhurried = g.short <= knee;
            // Ten responses make a window worth judging the upstream's latency by. Slower than
            // tolerable in two windows running, the upstream is queueing; in one, it may be the
            // shield's own threads that waited for a CPU (on a host the load saturates, tens of
            // milliseconds at times), and its requests in flight read the wait as the upstream's.
            let judged = window_responses >= 10;
            let slow = judged && g.short > tolerable;
            let queueing = slow && g.was_slow;
            if judged {
                g.was_slow = slow;
            }
            g.limit = if judged && (queueing || (held && !unhurried)) {
                // Queueing upstream: as many as it delivers within a tolerable response time
                // (held: at about its baseline speed).
                let delivered = f64::from(window_responses) / secs;
                (delivered * if held { knee } else { tolerable } / 1e6).min(limit)
            } else if judged && busy {
                // As fast as the baseline: room to grow, quickly while requests wait (held:
                // one at a time, and without waiters only while the upstream is at its very
                // baseline). Slower but still tolerable: one more at a time, and only if asked.
                match (unhurried, waiting > 0) {
                    (true, true) if held => limit + 1.0,
                    (true, true) => limit * 1.5,
                    (true, false) if held => limit + f64::from(g.short <= g.long + slack / 2.0),
                    (true, false) => limit + limit.sqrt(),
                    (false, true) => limit + 1.0,
                    (false, false) => limit,
                }
            } else if busy {
                limit
            } else {
                // Quiet: follow the use down, so the limit is near capacity when a flood comes.
                let decay = 0.98f64.powf(secs / UPDATE_EVERY.as_secs_f64());
                (limit * decay).max(f64::from(window_peak) * 2.0)
            }
            .clamp(min, max);
            g.last_update = now;
            let next = now.saturating_duration_since(self.epoch) + UPDATE_EVERY;
            self.due_us.store(u64::try_from(next.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
            self.baseline.store(g.long.to_bits(), Ordering::Relaxed);
        }
        self.limit.store(g.limit.round() as u32, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
