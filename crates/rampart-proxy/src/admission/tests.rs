//! Admission's tests: lanes and shares, the wait for a slot, the limit's moves, and a
//! simulated app under a flood.

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

/// A busy host: 30,000 responses a second at 0.5 ms, but every 0.37 s the shield's own
/// threads wait 80 ms for a CPU (the machine's other processes had it), and the 32 requests in
/// flight then read 80 ms. The upstream is not queueing; a limit cut at such a window would
/// queue the 32 clients in the shield for nothing. (Judged by the last few responses and a
/// single window, as it was, the limit fell to 30; by one window's mean, to 17.)
#[test]
fn a_busy_host_stalling_the_shield_does_not_cut_the_limit() {
    let a = admission(64);
    let held: Vec<_> = (0..32).filter_map(|_| a.try_acquire(Lane::Public, false)).collect();
    let mut now = Instant::now();
    let mut lowest = a.limit();
    for i in 0..150_000u32 {
        now += Duration::from_micros(33);
        if i % 11_111 == 0 {
            now += Duration::from_millis(80);
            for _ in 0..32 {
                a.record(Duration::from_millis(80), false, now);
            }
        }
        a.record(Duration::from_micros(500), false, now);
        lowest = lowest.min(a.limit());
    }
    assert!(lowest >= 32, "the limit fell to {lowest}");
    drop(held);
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

/// Staff requests, `every` apart for `span`, each timed, while whatever else runs (in normal
/// mode; `staff_times_defending` while the shield defends).
async fn staff_times(a: &Arc<Admission>, app: &Arc<App>, every: Duration, span: Duration) -> Vec<Duration> {
    staff_times_in(a, app, every, span, false).await
}

async fn staff_times_defending(a: &Arc<Admission>, app: &Arc<App>, every: Duration, span: Duration) -> Vec<Duration> {
    staff_times_in(a, app, every, span, true).await
}

async fn staff_times_in(a: &Arc<Admission>, app: &Arc<App>, every: Duration, span: Duration, defending: bool) -> Vec<Duration> {
    let mut tasks = Vec::new();
    let end = tokio::time::Instant::now() + span;
    while tokio::time::Instant::now() < end {
        let (a, app) = (Arc::clone(a), Arc::clone(app));
        tasks.push(tokio::spawn(async move { through(&a, &app, Lane::Priority, defending).await }));
        tokio::time::sleep(every).await;
    }
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await.expect("staff task"));
    }
    times.sort();
    times
}

/// A flood before the detector has said so (the mode is still normal), or a crowd: an app of
/// 8 slots x 10 ms (± 20%), 1,000 requests at a time. A staff request never waits in the
/// shield, but it does in the app's own queue. With this many waiting (swamped), the limit is
/// held near the app's knee (what it delivers at about its baseline speed): staff see p50
/// 13 ms and p99 16 ms, the limit at 14. Bars a little above that. (Held to the tolerable
/// latency, as it is with fewer waiting, it was p50 15 / p99 18 ms with the limit at 23. A
/// knee for every load cut a CPU-bound shield's own throughput by a fifth under `wrk -c32`,
/// its upstream latency including its own scheduling: see the commit that reverted it.)
#[tokio::test(start_paused = true)]
async fn a_flood_in_normal_mode_leaves_staff_a_short_queue_at_the_app() {
    let a = admission(64);
    let app = App::new(8, Duration::from_millis(10));
    // Calm first: staff alone, 10 a second, for 20 s (the baseline, and the limit follows
    // the use down).
    let calm = staff_times(&a, &app, Duration::from_millis(100), Duration::from_secs(20)).await;
    assert!(calm[calm.len() * 99 / 100] <= Duration::from_millis(12), "{calm:?}");
    let (stop, flood) = start_flood(&a, &app, false);
    // The first half second finds the app's capacity (by queueing it once); then the
    // reserve holds. Staff requests every 13.7 ms, out of step with the app's 10 ms.
    let finding = staff_times(&a, &app, Duration::from_micros(13_700), Duration::from_millis(500)).await;
    println!("staff while the limit finds the app's capacity: p50 {:?}, max {:?}", finding[finding.len() / 2], finding[finding.len() - 1]);
    let limits = limit_every_100ms(&a, Duration::from_secs(10));
    let during = staff_times(&a, &app, Duration::from_micros(13_700), Duration::from_secs(10)).await;
    let limits = limits.await.expect("limit sampler");
    stop_flood(&stop, flood).await;
    let (p50, p99, max) = quantiles(&during);
    println!("staff under the flood: p50 {p50:?}, p99 {p99:?}, max {max:?}; limit {:?}..{:?}", limits.first(), limits.last());
    assert!(p99 <= Duration::from_millis(18) && p50 <= Duration::from_millis(14), "staff p99 {p99:?} (p50 {p50:?}, max {max:?})");
    // 8 slots of ~10 ms (the baseline), held between the knee (1.1 x 10 + 2 ms: ~10) and a
    // few above it, all through the flood (it was 9-10 at every sample).
    assert!(limits.iter().all(|l| (8..=12).contains(l)), "the limit stays near what the app serves: {limits:?}");
}

/// The limit every 100 ms for `span`, sorted.
fn limit_every_100ms(a: &Arc<Admission>, span: Duration) -> tokio::task::JoinHandle<Vec<u32>> {
    let a = Arc::clone(a);
    tokio::spawn(async move {
        let mut limits = Vec::new();
        for _ in 0..span.as_millis() / 100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            limits.push(a.limit());
        }
        limits.sort_unstable();
        limits
    })
}

/// The same flood once the detector has named it: the public over its share is shed at once
/// (the flood comes back 1 ms later), staff come in between. The limit is held near the app's
/// knee, so the public's share leaves the app slots free and staff rarely wait for one.
#[tokio::test(start_paused = true)]
async fn a_flood_while_defending_leaves_staff_free_slots_at_the_app() {
    let a = admission(64);
    let app = App::new(8, Duration::from_millis(10));
    let calm = staff_times(&a, &app, Duration::from_millis(100), Duration::from_secs(20)).await;
    let calm_p99 = calm[calm.len() * 99 / 100];
    let (stop, flood) = start_flood(&a, &app, true);
    let _settling = staff_times_defending(&a, &app, Duration::from_micros(13_700), Duration::from_secs(2)).await;
    let during = staff_times_defending(&a, &app, Duration::from_micros(13_700), Duration::from_secs(10)).await;
    stop_flood(&stop, flood).await;
    let (p50, p99, max) = quantiles(&during);
    println!("defending: staff p50 {p50:?}, p99 {p99:?}, max {max:?} (calm p99 {calm_p99:?}); limit now {}", a.limit());
    // Seen: p50 10 ms, p99 12 ms, as in calm (the limit grown to the knee instead, the public
    // kept the app full and staff waited: p50 13, p99 18 ms). Bars a little above.
    assert!(p99 <= calm_p99 + Duration::from_millis(1) && p50 <= Duration::from_millis(11), "staff p99 {p99:?} (p50 {p50:?}, calm p99 {calm_p99:?})");
    assert!(a.shed(Lane::Public) > 0, "the flood over its share was shed");
}

/// A flood: 1,000 public requests at a time, each followed by the next as soon as it is
/// answered (or 1 ms after it was shed).
fn start_flood(a: &Arc<Admission>, app: &Arc<App>, defending: bool) -> (Arc<AtomicBool>, Vec<tokio::task::JoinHandle<()>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flood = (0..1000)
        .map(|_| {
            let (a, app, stop) = (Arc::clone(a), Arc::clone(app), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if through(&a, &app, Lane::Public, defending).await.is_none() {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        })
        .collect();
    (stop, flood)
}

/// End the flood's tasks and wait for them.
async fn stop_flood(stop: &AtomicBool, flood: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        f.await.expect("flood task");
    }
}

/// p50, p99 and the slowest of sorted times.
fn quantiles(sorted: &[Duration]) -> (Duration, Duration, Duration) {
    (sorted[sorted.len() / 2], sorted[sorted.len() * 99 / 100], sorted[sorted.len() - 1])
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
