//! Where a drill's requests appear to come from.
//!
//! Source `i` is always the same address, so a drill with `--sources 100` cycles through 100
//! clients however long it runs, and a report can say exactly how many distinct clients the
//! target saw. Consecutive sources land in different /16s (bound addresses) or /24s
//! (forwarded addresses), so that a per-prefix limit sees as many prefixes as a spread-out
//! botnet would show it, not one neighbourhood.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bound sources are 127.1.0.0 – 127.126.255.255: all of 127.0.0.0/16 (where 127.0.0.1 and a
/// probe's staff address such as 127.0.0.2 live) and 127.127.0.0/16 upward are left out.
pub const MAX_BOUND_SOURCES: u64 = 126 * 256 * 256;
/// Forwarded sources come from 100.64.0.0/10 (shared address space, RFC 6598, 2^22 of them),
/// then from 2001:2::/48 (IPv6 benchmarking, RFC 5180): 2^32 in all. Neither range is one a
/// target is likely to list among its trusted proxies, which would fold the sources into one.
pub const MAX_FORWARDED_SOURCES: u64 = 1 << 32;
/// How many forwarded sources are IPv4.
const FORWARDED_V4: u64 = 1 << 22;

/// How source `i` is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    /// One source: whatever the operating system picks.
    Single,
    /// `count` loopback addresses, one per connection, bound before connecting.
    Bound { count: u64 },
    /// `count` addresses carried in `X-Forwarded-For` over connections from one address.
    Forwarded { count: u64 },
}

impl Sources {
    pub fn count(&self) -> u64 {
        match self {
            Sources::Single => 1,
            Sources::Bound { count } | Sources::Forwarded { count } => *count,
        }
    }

    /// The address to bind for source `i`, if any.
    pub fn bind(&self, i: u64) -> Option<IpAddr> {
        match self {
            Sources::Bound { count } => Some(IpAddr::V4(bound(i % count))),
            _ => None,
        }
    }

    /// The `X-Forwarded-For` value for source `i`, if any.
    pub fn forwarded(&self, i: u64) -> Option<IpAddr> {
        match self {
            Sources::Forwarded { count } => Some(forwarded(i % count)),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Sources::Single => "1 source".into(),
            Sources::Bound { count } => format!("{count} sources (bound 127.x.y.z)"),
            Sources::Forwarded { count } => format!("{count} sources (X-Forwarded-For)"),
        }
    }
}

/// 127.(1 + i mod 126).(i / 126 mod 256).(i / 32256): consecutive sources differ in the second
/// octet. A bijection on `0..MAX_BOUND_SOURCES`.
fn bound(i: u64) -> Ipv4Addr {
    let b = 1 + (i % 126) as u8;
    let c = ((i / 126) % 256) as u8;
    let d = ((i / (126 * 256)) % 256) as u8;
    Ipv4Addr::new(127, b, c, d)
}

/// Below 2^22: 100.64.0.0 + (i × an odd constant mod 2^22), a bijection that scatters
/// consecutive sources over the /10. Above: 2001:2:0:S::H:L with the rest of `i` scattered over
/// the subnet id `S` (65,536 /64s) and the host part `H:L`.
fn forwarded(i: u64) -> IpAddr {
    if i < FORWARDED_V4 {
        let offset = (i.wrapping_mul(0x9E37_79B1) & (FORWARDED_V4 - 1)) as u32;
        return IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) | offset));
    }
    let scattered = (i - FORWARDED_V4).wrapping_mul(0x9E37_79B1) & (MAX_FORWARDED_SOURCES - 1);
    let (subnet, host) = ((scattered & 0xffff) as u16, (scattered >> 16) as u16);
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x2, 0, subnet, 0, 0, host, (i & 0xffff) as u16))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn bound_sources_are_distinct_loopback_and_clear_of_127_0() {
        let s = Sources::Bound { count: 50_000 };
        let all: HashSet<IpAddr> = (0..50_000).filter_map(|i| s.bind(i)).collect();
        assert_eq!(all.len(), 50_000);
        assert!(all.iter().all(|a| a.is_loopback() && !matches!(a, IpAddr::V4(v) if v.octets()[1] == 0 || v.octets()[1] == 127)));
        assert_eq!(s.bind(50_000), s.bind(0), "sources cycle");
        assert_eq!(bound(MAX_BOUND_SOURCES - 1), Ipv4Addr::new(127, 126, 255, 255));
    }

    #[test]
    fn forwarded_sources_are_distinct_and_spread() {
        let s = Sources::Forwarded { count: 100_000 };
        let all: HashSet<IpAddr> = (0..100_000).filter_map(|i| s.forwarded(i)).collect();
        assert_eq!(all.len(), 100_000);
        let cgnat = |a: &IpAddr| matches!(a, IpAddr::V4(v) if (u32::from(*v) >> 22) == (u32::from(Ipv4Addr::new(100, 64, 0, 0)) >> 22));
        assert!(all.iter().all(cgnat));
        let v4 = |a: IpAddr| match a {
            IpAddr::V4(v) => [v.octets()[0], v.octets()[1], v.octets()[2]],
            IpAddr::V6(_) => [0; 3],
        };
        let prefixes: HashSet<[u8; 3]> = (0..100).filter_map(|i| s.forwarded(i)).map(v4).collect();
        assert!(prefixes.len() > 90, "{}", prefixes.len());
    }

    #[test]
    fn ten_million_forwarded_sources_are_distinct_past_the_ipv4_range() {
        // Distinct across the IPv4/IPv6 seam and well past it (a window each side, and a sample).
        let s = Sources::Forwarded { count: 10_000_000 };
        let seam = FORWARDED_V4 - 50_000..FORWARDED_V4 + 50_000;
        let sample = (0..10_000_000).step_by(97);
        let all: HashSet<IpAddr> = seam.clone().chain(sample.clone()).filter_map(|i| s.forwarded(i)).collect();
        let wanted: HashSet<u64> = seam.chain(sample).collect();
        assert_eq!(all.len(), wanted.len());
        assert!(matches!(s.forwarded(FORWARDED_V4), Some(IpAddr::V6(v)) if v.segments()[..3] == [0x2001, 0x2, 0]));
        let subnets: HashSet<u16> = (FORWARDED_V4..FORWARDED_V4 + 1000).filter_map(|i| s.forwarded(i)).map(|a| match a {
            IpAddr::V6(v) => v.segments()[3],
            IpAddr::V4(_) => 0,
        }).collect();
        assert!(subnets.len() > 900, "consecutive IPv6 sources spread over /64s: {}", subnets.len());
    }
}
