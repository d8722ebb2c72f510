//! Priority admission: how many requests an upstream pool gets at once, and who goes first.
//!
//! Each pool has an adaptive concurrency limit found from its latency (after Netflix's
//! concurrency-limits `Gradient2` and BBR's delivery-rate estimate): a slow average of
//! response times is the baseline, a fast one the present. When the present runs above the
//! baseline by more than the tolerance, the upstream is queueing, and the limit drops at once
//! to what the upstream delivers at a tolerable latency (Little's law: delivered rate × the
//! tolerable response time); when it does not and the limit is in use, it grows — by half while
//! requests wait and the upstream is as fast as its baseline, by `√limit` when none wait, one
//! at a time when the upstream is slower than its baseline but still tolerable; in
//! quiet times it follows the use down. So the limit sits near the upstream's real capacity
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
    /// Fast and slow moving averages of the response time, in microseconds.
    short: f64,
    long: f64,
    samples: u64,
    /// Since `last_update`: the most requests in flight seen.
    window_peak: u32,
    last_update: Instant,
}

/// One pool's admission control.
pub struct Admission {
    settings: AdmissionSettings,
    limit: AtomicU32,
    in_flight: AtomicU32,
    /// Responses since the limit last moved (all of them: the response times are sampled).
    responses: AtomicU32,
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

/// How often the limit moves at most.
const UPDATE_EVERY: Duration = Duration::from_millis(100);
/// How fast the baseline follows a slower upstream: over about a minute, whatever the request
/// rate, so that a sustained overload does not become the new normal within the attack.
const BASELINE_RISE: Duration = Duration::from_secs(60);

impl Admission {
    pub fn new(settings: AdmissionSettings) -> Admission {
        let initial = settings.initial.clamp(settings.min, settings.max);
        Admission {
            settings,
            limit: AtomicU32::new(initial),
            in_flight: AtomicU32::new(0),
            responses: AtomicU32::new(0),
            defending: AtomicBool::new(false),
            gradient: Mutex::new(Gradient {
                limit: f64::from(initial),
                short: 0.0,
                long: 0.0,
                samples: 0,
                window_peak: 0,
                last_update: Instant::now(),
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
    /// Responses are all counted; their times are sampled (one that finds another worker
    /// updating the averages is left out rather than waiting for it).
    pub fn record(&self, rtt: Duration, overloaded: bool, now: Instant) {
        self.responses.fetch_add(1, Ordering::Relaxed);
        let Some(mut g) = self.gradient.try_lock() else { return };
        let us = rtt.as_secs_f64() * 1e6;
        if g.samples == 0 {
            g.short = us;
            g.long = us;
        } else {
            g.short += 0.1 * (us - g.short);
            // The baseline follows a faster upstream at once (below, per update, a slower one).
            if us < g.long {
                g.long += 0.05 * (us - g.long);
            }
        }
        g.samples += 1;
        g.window_peak = g.window_peak.max(self.in_flight());
        let (min, max) = (f64::from(self.settings.min), f64::from(self.settings.max));
        let elapsed = now.saturating_duration_since(g.last_update);
        if overloaded {
            g.limit = (g.limit * 0.9).max(min);
        } else if elapsed >= UPDATE_EVERY {
            let secs = elapsed.as_secs_f64();
            let window_responses = self.responses.swap(0, Ordering::Relaxed);
            if g.short > g.long {
                g.long += (g.short - g.long) * (secs / BASELINE_RISE.as_secs_f64()).min(1.0);
            }
            let slack = self.settings.slack.as_secs_f64() * 1e6;
            let tolerable = self.settings.tolerance * g.long + slack;
            let limit = g.limit;
            // In use: half the limit was taken at some point, or requests wait.
            let busy = f64::from(g.window_peak) * 2.0 >= limit || self.waiting() > 0;
            // Ten responses make a window worth judging the upstream's latency by.
            g.limit = if window_responses >= 10 && g.short > tolerable {
                // Queueing upstream: as many as it delivers within a tolerable response time.
                let delivered = f64::from(window_responses) / secs;
                (delivered * tolerable / 1e6).min(limit)
            } else if window_responses >= 10 && busy {
                // As fast as the baseline: room to grow, quickly while requests wait. Slower but
                // still tolerable: near the knee, one more at a time, and only if asked.
                let unhurried = g.short <= 1.1 * g.long + slack;
                match (unhurried, self.waiting() > 0) {
                    (true, true) => limit * 1.5,
                    (true, false) => limit + limit.sqrt(),
                    (false, true) => limit + 1.0,
                    (false, false) => limit,
                }
            } else if busy {
                limit
            } else {
                // Quiet: follow the use down, so the limit is near capacity when a flood comes.
                let decay = 0.98f64.powf(secs / UPDATE_EVERY.as_secs_f64());
                (limit * decay).max(f64::from(g.window_peak) * 2.0)
            }
            .clamp(min, max);
            g.last_update = now;
            g.window_peak = 0;
        } else {
            return;
        }
        self.limit.store(g.limit.round() as u32, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `seconds` of responses taking `rtt_ms`, `per_s` a second, on a clock that `now`
    /// carries, while `busy` requests are in flight.
    fn settled(a: &Arc<Admission>, now: &mut Instant, rtt_ms: u64, per_s: u64, seconds: u64, busy: u32) {
        let held: Vec<_> = (0..busy).filter_map(|_| a.try_acquire(Lane::Priority, false)).collect();
        for _ in 0..seconds * 10 {
            *now += UPDATE_EVERY;
            for _ in 0..per_s / 10 {
                a.record(Duration::from_millis(rtt_ms), false, *now);
            }
        }
        drop(held);
    }

    fn admission(initial: u32) -> Arc<Admission> {
        Arc::new(Admission::new(AdmissionSettings { initial, ..AdmissionSettings::default() }))
    }

    #[tokio::test(start_paused = true)]
    async fn while_defending_the_public_fills_its_share_and_staff_still_get_in() {
        let a = admission(100);
        let mut public = Vec::new();
        while let Some(p) = a.acquire(Lane::Public, true).await {
            public.push(p);
        }
        assert_eq!(public.len(), 70);
        assert_eq!(a.shed(Lane::Public), 1, "shed at once, not queued");
        let cleared: Vec<_> = std::iter::from_fn(|| a.try_acquire(Lane::Cleared, true)).take(1000).collect();
        assert_eq!(cleared.len(), 15);
        // Over its share a clearance holder waits for a slot, ahead of the public: not shed.
        let waiter = tokio::spawn({
            let a = Arc::clone(&a);
            async move { a.acquire(Lane::Cleared, true).await.is_some() }
        });
        while a.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        let staff: Vec<_> = std::iter::from_fn(|| a.try_acquire(Lane::Priority, true)).take(1000).collect();
        assert_eq!(staff.len(), 40, "staff fill the limit and a headroom above it");
        drop(staff);
        assert_eq!(a.waiting(), 1, "the slots freed are above the clearance holders' share");
        public.pop();
        assert!(waiter.await.unwrap(), "the next slot below the share goes to the waiting clearance holder");
        assert_eq!(a.shed(Lane::Cleared), 0);
        drop(public);
        assert_eq!(a.in_flight(), 15);
        assert!(a.acquire(Lane::Public, true).await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn in_calm_a_request_over_the_limit_waits_and_staff_go_first() {
        let a = admission(8);
        let held: Vec<_> = std::iter::from_fn(|| a.try_acquire(Lane::Public, false)).take(100).collect();
        assert_eq!(held.len(), 8, "in calm the public may fill the whole limit");
        let public = tokio::spawn({
            let a = Arc::clone(&a);
            async move { a.acquire(Lane::Public, false).await.is_some() }
        });
        tokio::task::yield_now().await;
        // Staff have a headroom above the limit: in at once, not behind the waiting public.
        let staff: Vec<_> = std::iter::from_fn(|| a.try_acquire(Lane::Priority, false)).take(100).collect();
        assert_eq!(staff.len(), 4);
        let waiting_staff = tokio::spawn({
            let a = Arc::clone(&a);
            async move { a.acquire(Lane::Priority, false).await.map(|_| Instant::now()) }
        });
        while a.waiting() < 2 {
            tokio::task::yield_now().await;
        }
        let mut held = held;
        held.pop();
        // The freed slot goes to the staff waiter although the public one came first.
        assert!(waiting_staff.await.unwrap().is_some());
        assert_eq!(a.waiting(), 1);
        // The public waiter is let in once the public may fill a slot: below the limit.
        drop(staff);
        assert!(public.await.unwrap(), "the public waiter gets a slot");
        assert_eq!(a.shed(Lane::Public), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_waits_no_longer_than_the_queue_timeout_and_gives_its_slot_back() {
        let a = admission(8);
        let held: Vec<_> = std::iter::from_fn(|| a.try_acquire(Lane::Public, false)).take(8).collect();
        let started = tokio::time::Instant::now();
        assert!(a.acquire(Lane::Public, false).await.is_none());
        assert_eq!(started.elapsed(), AdmissionSettings::default().queue_timeout);
        assert_eq!(a.shed(Lane::Public), 1);
        drop(held);
        assert_eq!(a.in_flight(), 0, "the timed-out waiter holds no slot");
        assert!(a.try_acquire(Lane::Public, false).is_some());
    }

    #[test]
    fn the_limit_drops_to_what_a_queueing_upstream_delivers_and_grows_back() {
        let a = admission(200);
        let mut now = Instant::now();
        settled(&a, &mut now, 10, 1000, 5, 150);
        let calm = a.limit();
        assert!(calm >= 200, "no queueing while in use: the limit does not shrink ({calm})");
        // 800 responses a second at 80 ms: the upstream holds 64 and queues the rest. At the
        // tolerable 15 ms (1.3 x 10 ms + 2 ms) it delivers 800/s with 12 in flight.
        settled(&a, &mut now, 80, 800, 1, 150);
        let loaded = a.limit();
        assert!((12..=14).contains(&loaded), "queueing upstream: {calm} -> {loaded}");
        settled(&a, &mut now, 10, 1000, 3, 150);
        assert!(a.limit() > loaded * 2, "recovered: {loaded} -> {}", a.limit());
        assert!(a.limit() <= AdmissionSettings::default().max);
    }

    #[test]
    fn in_quiet_times_the_limit_follows_the_use_down() {
        let a = admission(512);
        let mut now = Instant::now();
        // A request at a time for 25 s: the limit halves about every 3.4 s, down to its floor.
        settled(&a, &mut now, 10, 10, 25, 1);
        assert_eq!(a.limit(), AdmissionSettings::default().min);
        // In use again (the limit and the staff headroom, 12, all taken): it grows to about twice
        // the use, and no further while nothing more is asked.
        settled(&a, &mut now, 10, 1000, 2, 40);
        assert!((20..=26).contains(&a.limit()), "in use again, it grows: {}", a.limit());
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

    /// An app that serves `slots` requests at once, `work` ± 20% each (from a fixed sequence),
    /// and queues the rest in order (as the testbed and most thread-pool apps do).
    struct App {
        slots: tokio::sync::Semaphore,
        work: Duration,
        seed: AtomicU64,
    }

    impl App {
        fn new(slots: usize, work: Duration) -> Arc<App> {
            Arc::new(App { slots: tokio::sync::Semaphore::new(slots), work, seed: AtomicU64::new(1) })
        }

        async fn serve(&self) {
            let _slot = self.slots.acquire().await.expect("open");
            let r = self.seed.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            let spread = (r % 401) as f64 / 1000.0 - 0.2;
            tokio::time::sleep(self.work.mul_f64(1.0 + spread)).await;
        }
    }

    /// One request through admission to the app, its response time fed back; the time it took
    /// from asking for a slot, or `None` if shed.
    async fn through(a: &Arc<Admission>, app: &App, lane: Lane, defending: bool) -> Option<Duration> {
        let asked = tokio::time::Instant::now();
        let permit = a.acquire(lane, defending).await?;
        let sent = tokio::time::Instant::now();
        app.serve().await;
        a.record(sent.elapsed(), false, tokio::time::Instant::now().into_std());
        drop(permit);
        Some(asked.elapsed())
    }

    /// Staff requests, `every` apart for `span`, each timed, while whatever else runs.
    async fn staff_times(a: &Arc<Admission>, app: &Arc<App>, every: Duration, span: Duration) -> Vec<Duration> {
        let mut tasks = Vec::new();
        let end = tokio::time::Instant::now() + span;
        while tokio::time::Instant::now() < end {
            let (a, app) = (Arc::clone(a), Arc::clone(app));
            tasks.push(tokio::spawn(async move { through(&a, &app, Lane::Priority, false).await }));
            tokio::time::sleep(every).await;
        }
        let mut times = Vec::new();
        for t in tasks {
            times.extend(t.await.expect("staff task"));
        }
        times.sort();
        times
    }

    /// A flood before the detector has said so (the mode is still normal), or a busy day: an
    /// app of 8 slots x 10 ms (± 20%), 1,000 requests at a time. A staff request never waits in
    /// the shield, but it does in the app's own queue, which the limit keeps to what a tolerable
    /// latency allows: here staff see p50 15 ms and p99 18 ms with the limit at 23. Bars a
    /// little above that. (A limit cut to the app's knee — what it delivers at its baseline speed —
    /// gave p50 12 / p99 16 ms here, but cut a CPU-bound shield's own throughput by a fifth:
    /// its upstream latency includes its own scheduling. See the commit that reverted it.)
    #[tokio::test(start_paused = true)]
    async fn a_flood_in_normal_mode_leaves_staff_a_short_queue_at_the_app() {
        let a = admission(64);
        let app = App::new(8, Duration::from_millis(10));
        // Calm first: staff alone, 10 a second, for 20 s (the baseline, and the limit follows
        // the use down).
        let calm = staff_times(&a, &app, Duration::from_millis(100), Duration::from_secs(20)).await;
        assert!(calm[calm.len() * 99 / 100] <= Duration::from_millis(12), "{calm:?}");
        let stop = Arc::new(AtomicBool::new(false));
        let flood: Vec<_> = (0..1000)
            .map(|_| {
                let (a, app, stop) = (Arc::clone(&a), Arc::clone(&app), Arc::clone(&stop));
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        through(&a, &app, Lane::Public, false).await;
                    }
                })
            })
            .collect();
        // The first half second finds the app's capacity (by queueing it once); then the
        // reserve holds. Staff requests every 13.7 ms, out of step with the app's 10 ms.
        let finding = staff_times(&a, &app, Duration::from_micros(13_700), Duration::from_millis(500)).await;
        println!("staff while the limit finds the app's capacity: p50 {:?}, max {:?}", finding[finding.len() / 2], finding[finding.len() - 1]);
        let during = staff_times(&a, &app, Duration::from_micros(13_700), Duration::from_secs(10)).await;
        stop.store(true, Ordering::Relaxed);
        for f in flood {
            f.await.expect("flood task");
        }
        let p99 = during[during.len() * 99 / 100];
        let (p50, max) = (during[during.len() / 2], during[during.len() - 1]);
        println!("staff under the flood: p50 {p50:?}, p99 {p99:?}, max {max:?}; limit now {}", a.limit());
        assert!(p99 <= Duration::from_millis(20) && p50 <= Duration::from_millis(16), "staff p99 {p99:?} (p50 {p50:?}, max {max:?})");
        // 8 slots of ~9 ms (the baseline), queueing to the tolerable 1.3 x 9 + 2 ms and
        // regrowing by half: between ~10 and ~25.
        assert!((8..=26).contains(&a.limit()), "the limit stays near what the app serves: {}", a.limit());
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
