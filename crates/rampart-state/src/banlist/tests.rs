use std::time::Duration;

use super::*;
use crate::clock::{Clock, ManualClock};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn addresses_and_prefixes_are_banned_until_their_deadline() {
    let clock = ManualClock::new();
    let bans = BanList::new(16);
    let now = clock.now();
    assert_eq!(bans.ban(net("192.0.2.7/32"), now + Duration::from_secs(60), now), BanOutcome::Added);
    assert_eq!(bans.ban(net("2001:db8:1::/48"), now + Duration::from_secs(600), now), BanOutcome::Added);
    assert!(bans.is_banned(ip("192.0.2.7"), now));
    assert!(bans.is_banned(ip("::ffff:192.0.2.7"), now));
    assert!(!bans.is_banned(ip("192.0.2.8"), now));
    assert!(bans.is_banned(ip("2001:db8:1:ffff::1"), now));
    assert!(!bans.is_banned(ip("2001:db8:2::1"), now));

    clock.advance(Duration::from_secs(60));
    assert!(!bans.is_banned(ip("192.0.2.7"), clock.now()));
    assert!(bans.is_banned(ip("2001:db8:1::9"), clock.now()));
    bans.purge_expired(clock.now());
    assert_eq!(bans.len(), 1);
}

#[test]
fn a_full_list_drops_the_soonest_to_end() {
    let clock = ManualClock::new();
    let now = clock.now();
    let bans = BanList::new(2);
    bans.ban(net("198.51.100.1/32"), now + Duration::from_secs(10), now);
    bans.ban(net("198.51.100.2/32"), now + Duration::from_secs(20), now);
    let out = bans.ban(net("198.51.100.3/32"), now + Duration::from_secs(30), now);
    assert_eq!(out, BanOutcome::Evicted(net("198.51.100.1/32")));
    assert_eq!(bans.ban(net("198.51.100.4/32"), now + Duration::from_secs(5), now), BanOutcome::Refused);
    assert_eq!(bans.len(), 2);
    assert!(!bans.is_banned(ip("198.51.100.1"), now));
    assert!(bans.is_banned(ip("198.51.100.3"), now));
}

#[test]
fn rebanning_extends_and_unban_lifts() {
    let clock = ManualClock::new();
    let now = clock.now();
    let bans = BanList::new(4);
    bans.ban(net("203.0.113.0/24"), now + Duration::from_secs(10), now);
    let out = bans.ban(net("203.0.113.9/24"), now + Duration::from_secs(100), now);
    assert_eq!(out, BanOutcome::Extended);
    assert_eq!(bans.banned_until(ip("203.0.113.200"), now), Some(now + Duration::from_secs(100)));
    assert_eq!(bans.list(now).len(), 1);
    assert!(bans.unban(net("203.0.113.0/24")));
    assert!(!bans.is_banned(ip("203.0.113.200"), now));
    assert!(bans.is_empty());
}

#[test]
fn churn_stays_within_capacity() {
    let clock = ManualClock::new();
    let bans = BanList::new(100);
    for i in 0..10_000u32 {
        let addr = std::net::Ipv4Addr::from(0x0a00_0000 + i);
        bans.ban(IpNet::from(IpAddr::V4(addr)), clock.now() + Duration::from_secs(1 + (i % 50) as u64), clock.now());
        clock.advance(Duration::from_millis(3));
    }
    assert!(bans.len() <= 100);
    assert!(bans.memory_bytes() >= BanList::bytes_for(100));
}

#[test]
fn bans_lapse_in_deadline_order() {
    let clock = ManualClock::new();
    let start = clock.now();
    let bans = BanList::new(1000);
    let mut deadlines = Vec::new();
    for i in 0..1000u32 {
        let secs = u64::from(i.wrapping_mul(2_654_435_761) % 97) + 1;
        deadlines.push(secs);
        let addr = IpAddr::V4(std::net::Ipv4Addr::from(0xc633_6400 + i));
        assert_eq!(bans.ban(IpNet::from(addr), start + Duration::from_secs(secs), start), BanOutcome::Added);
    }
    for t in 0..=98u64 {
        bans.purge_expired(start + Duration::from_secs(t));
        assert_eq!(bans.len(), deadlines.iter().filter(|&&d| d > t).count(), "at {t}s");
    }
}
