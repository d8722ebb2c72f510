//! A million distinct client addresses through one rate limiter: its memory must stay under
//! the configured ceiling both by its own account (`memory_bytes`) and by the allocator's,
//! and a legitimate low-rate client must still be served throughout.
//!
//! One test in this binary on purpose: the counting allocator sees every thread, and a
//! second test running alongside would blur the figure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use rampart_core::Rate;
use rampart_state::{Clock, KeyHash, KeyLabel, LimitDecision, LimiterSettings, ManualClock, RateLimiter};

/// The system allocator, keeping the live byte count and its high-water mark.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed) + layout.size() as isize;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CEILING: usize = 8 << 20;
const FLOOD: u32 = 1_000_000;

#[test]
fn a_million_addresses_stay_under_the_ceiling_and_spare_the_legitimate_client() {
    let clock = ManualClock::new();
    let settings = LimiterSettings::new(Rate { count: 5, per: Duration::from_secs(1) }, 5, CEILING);
    let legit: IpAddr = "198.51.100.20".parse().unwrap();

    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let limiter = RateLimiter::new(&settings, clock.now()).unwrap();
    let mut worst_own = limiter.memory_bytes();
    let mut legit_sent = 0;
    let mut heavy_limited = 0;

    for i in 0..FLOOD {
        // Nine in ten requests from a fresh spoofed address (v4 and v6 alike), one in ten
        // from one of 50 heavy hitters; 10 µs apart, so the flood lasts 10 s.
        let client = if i % 10 == 9 {
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, (i / 10 % 50) as u8))
        } else if i % 2 == 0 {
            IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
        } else {
            IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | i as u128))
        };
        let decision = limiter.check(KeyHash::of_ip(client), clock.now(), || KeyLabel::from_display(client));
        if i % 10 == 9 && decision != LimitDecision::Allowed {
            heavy_limited += 1;
        }
        // The legitimate client: four requests a second, under its limit of five.
        if i % 25_000 == 0 {
            let d = limiter.check(KeyHash::of_ip(legit), clock.now(), || KeyLabel::from_display(legit));
            assert_eq!(d, LimitDecision::Allowed, "legitimate client refused at request {i}");
            legit_sent += 1;
        }
        if i % 100_000 == 0 {
            worst_own = worst_own.max(limiter.memory_bytes());
        }
        clock.advance(Duration::from_micros(10));
    }

    let heap_growth = (PEAK.load(Ordering::Relaxed) - baseline) as usize;
    let live_growth = (LIVE.load(Ordering::Relaxed) - baseline) as usize;
    println!(
        "ceiling {CEILING} B; memory_bytes {worst_own} B; peak heap growth {heap_growth} B; \
         live heap growth {live_growth} B; legit requests {legit_sent}; heavy hitters limited {heavy_limited}"
    );
    assert!(worst_own <= CEILING, "memory_bytes {worst_own} over ceiling {CEILING}");
    assert!(heap_growth <= CEILING, "heap grew {heap_growth} over ceiling {CEILING}");
    assert_eq!(legit_sent, 40);
    // 100,000 heavy requests at 20/s each against a 5/s limit: most are refused.
    assert!(heavy_limited > 70_000, "only {heavy_limited} heavy-hitter requests limited");
    let top = limiter.top_offenders(50);
    assert!(top.iter().all(|h| h.key.as_str().starts_with("203.0.113.")), "{top:?}");
}
