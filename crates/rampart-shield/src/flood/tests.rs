use std::sync::Arc;
use std::time::Duration;

use http::Method;
use parking_lot::Mutex as PlMutex;
use rampart_core::{Event, EventSink, RequestContext, Verdict};
use rampart_state::{BanList, ManualClock};

use super::*;

#[derive(Default)]
struct Collect(PlMutex<Vec<Event>>);

impl EventSink for Collect {
    fn emit(&self, event: Event) {
        self.0.lock().push(event);
    }
}

struct Rig {
    clock: Arc<ManualClock>,
    flood: Flood,
    events: Arc<Collect>,
    bans: Arc<BanList>,
}

fn rig() -> Rig {
    let clock = Arc::new(ManualClock::new());
    let events = Arc::new(Collect::default());
    let bans = Arc::new(BanList::new(10_000));
    let settings = FloodSettings { min_rate: 20.0, ..FloodSettings::default() };
    let flood = Flood::new(settings, Arc::new(Mitigation::new()), None, Arc::clone(&bans), clock.clone(), events.clone());
    Rig { clock, flood, events, bans }
}

fn browser(client: &str, path: &str) -> RequestContext {
    let mut ctx = RequestContext::for_test(Method::GET, path, client.parse().unwrap());
    ctx.headers.insert("host", "campaign.example".parse().unwrap());
    ctx.headers.insert("user-agent", "Mozilla/5.0 (X11; Linux x86_64)".parse().unwrap());
    ctx.headers.insert("accept", "text/html".parse().unwrap());
    ctx.headers.insert("accept-language", "en-GB".parse().unwrap());
    ctx
}

fn bot(client: &str) -> RequestContext {
    let mut ctx = RequestContext::for_test(Method::GET, "/search?q=x", client.parse().unwrap());
    ctx.headers.insert("host", "campaign.example".parse().unwrap());
    ctx.headers.insert("user-agent", "floodtool/1.0".parse().unwrap());
    ctx
}

impl Rig {
    /// `n` requests within one tick, then the tick closes.
    fn tick_of(&self, n: usize, make: impl Fn(usize) -> RequestContext) -> Vec<Verdict> {
        let verdicts = (0..n).map(|i| self.flood.on_request_headers(&mut make(i)).unwrap()).collect();
        self.clock.advance(Duration::from_millis(500));
        self.flood.tick();
        verdicts
    }

    fn calm(&self, ticks: usize) {
        for t in 0..ticks {
            self.tick_of(20, |i| browser(&format!("198.51.100.{}", (i + t) % 200), &format!("/page/{i}")));
        }
    }

    fn mode_changes(&self) -> Vec<(&'static str, &'static str)> {
        self.events
            .0
            .lock()
            .iter()
            .filter_map(|e| match e {
                Event::ModeChange { from, to, .. } => Some((*from, *to)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn a_flood_raises_the_mode_within_two_ticks_and_it_stands_down_after_calm() {
    let r = rig();
    r.calm(40); // 20 s at 40 req/s: the baseline
    assert_eq!(r.flood.mitigation().mode(), Mode::Normal);
    // Many sources, 4,000 requests per tick (8,000 req/s), one bot fingerprint.
    let mut ticks_to_detect = 0;
    for t in 0..6 {
        r.tick_of(4000, |i| bot(&format!("10.{}.{}.{}", t, i / 250, i % 250)));
        ticks_to_detect += 1;
        if r.flood.mitigation().mode() == Mode::UnderAttack {
            break;
        }
    }
    assert!(ticks_to_detect <= 2, "took {ticks_to_detect} ticks");
    let status = r.flood.status();
    assert!(status.attack_fingerprints.iter().any(|f| f.key.contains("floodtool")), "{:?}", status.attack_fingerprints);
    assert!(!status.attack_fingerprints.iter().any(|f| f.key.contains("Mozilla")));

    // Under attack: the bot fingerprint is dropped, an anonymous browser challenged, a
    // cleared browser and staff served.
    assert!(matches!(r.flood.on_request_headers(&mut bot("10.9.9.9")).unwrap(), Verdict::Block { .. }));
    assert!(matches!(r.flood.on_request_headers(&mut browser("192.0.2.1", "/")).unwrap(), Verdict::Challenge { .. }));
    let mut cleared = browser("192.0.2.2", "/");
    cleared.identity.clearance = Some(Arc::from("k"));
    assert_eq!(r.flood.on_request_headers(&mut cleared).unwrap(), Verdict::Continue);
    let mut staff = bot("192.0.2.3");
    staff.identity.class = Arc::from("staff");
    assert_eq!(r.flood.on_request_headers(&mut staff).unwrap(), Verdict::Continue);

    // The flood ends: back to normal within 30 s (60 ticks), stepping through elevated.
    let mut ticks_to_normal = 0;
    while r.flood.mitigation().mode() != Mode::Normal && ticks_to_normal < 80 {
        r.calm(1);
        ticks_to_normal += 1;
    }
    assert!(ticks_to_normal <= 60, "took {ticks_to_normal} ticks");
    assert_eq!(r.mode_changes().first(), Some(&("normal", "under_attack")));
    assert_eq!(r.mode_changes().last(), Some(&("elevated", "normal")));
}

#[test]
fn a_few_heavy_sources_are_banned_during_an_attack() {
    let r = rig();
    r.calm(40);
    for _ in 0..4 {
        r.tick_of(3000, |i| bot(&format!("203.0.113.{}", i % 100)));
    }
    let now = r.clock.now();
    assert!(r.bans.is_banned("203.0.113.7".parse().unwrap(), now));
    assert!(!r.bans.is_banned("198.51.100.7".parse().unwrap(), now), "calm browsers are not banned");
}

#[test]
fn traffic_below_the_factor_is_never_an_attack() {
    let r = rig();
    r.calm(40);
    // Twice the baseline: busy, not an attack.
    for t in 0..20 {
        r.tick_of(40, |i| browser(&format!("198.51.{}.{}", t, i), "/"));
    }
    assert_eq!(r.flood.mitigation().mode(), Mode::Normal);
    assert!(r.mode_changes().is_empty());
}

#[test]
fn memory_is_fixed_whatever_the_number_of_sources() {
    let r = rig();
    let before = r.flood.memory_bytes();
    r.tick_of(100_000, |i| bot(&std::net::Ipv4Addr::from(0x0a00_0000u32 + i as u32).to_string()));
    assert_eq!(r.flood.memory_bytes(), before);
    assert!(before < 4 << 20, "{before} bytes");
}
