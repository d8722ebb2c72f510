//! A ban list churned by a million distinct addresses stays within
//! [`BanList::bytes_for`] its capacity, as the process's allocator counts it.
//!
//! Only the test's own thread is counted: the harness's other threads allocate now and then
//! (a few hundred bytes once pushed the peak over the bound, with the list itself ~760 bytes
//! under it), and the list allocates on the thread that calls it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use ipnet::IpNet;
use rampart_state::{BanList, Clock, ManualClock};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// Whether this thread's allocations are counted (const-initialised, without a destructor:
    /// reading it allocates nothing, as an allocator needs).
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() && counted() {
            let live = LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed) + layout.size() as isize;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        if counted() {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_million_bans_stay_within_the_bound() {
    const CAPACITY: usize = 10_000;
    let clock = ManualClock::new();
    COUNTED.with(|c| c.set(true));
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let bans = BanList::new(CAPACITY);
    for i in 0..1_000_000u32 {
        let addr = if i % 2 == 0 {
            IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
        } else {
            IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | i as u128))
        };
        // Deadlines out of order, so eviction, extension and expiry all happen.
        let until = clock.now() + Duration::from_secs(1 + u64::from(i.wrapping_mul(2_654_435_761) % 600));
        bans.ban(IpNet::from(addr), until, clock.now());
        clock.advance(Duration::from_micros(100));
    }
    let peak = (PEAK.load(Ordering::Relaxed) - baseline) as usize;
    COUNTED.with(|c| c.set(false));
    println!("ban list of {CAPACITY}: peak heap growth {peak} B, bound {} B", BanList::bytes_for(CAPACITY));
    assert!(bans.len() <= CAPACITY);
    assert!(peak <= BanList::bytes_for(CAPACITY), "{peak} over {}", BanList::bytes_for(CAPACITY));
}
