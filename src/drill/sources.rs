//! Where a drill's requests appear to come from.
//!
//! Source `i` is always the same address, so a drill with `--sources 100` cycles through 100
//! clients however long it runs, and a report can say exactly how many distinct clients the
//! target saw. Consecutive sources land in different /16s (bound addresses) or /24s
//! (forwarded addresses), so that a per-prefix limit sees as many prefixes as a spread-out
//! botnet would show it, not one neighbourhood.

use std::net::{IpAddr, Ipv4Addr};

/// Bound sources are 127.1.0.0 – 127.126.255.255: all of 127.0.0.0/16 (where 127.0.0.1 and a
/// probe's staff address such as 127.0.0.2 live) and 127.127.0.0/16 upward are left out.
pub const MAX_BOUND_SOURCES: u64 = 126 * 256 * 256;
/// Forwarded sources come from 100.64.0.0/10 (shared address space, RFC 6598): 2^22 of them.
pub const MAX_FORWARDED_SOURCES: u64 = 1 << 22;

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
    pub fn forwarded(&self, i: u64) -> Option<Ipv4Addr> {
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

/// 100.64.0.0 + (i × an odd constant mod 2^22): a bijection on `0..MAX_FORWARDED_SOURCES` that
/// scatters consecutive sources over the /10.
fn forwarded(i: u64) -> Ipv4Addr {
    let offset = (i.wrapping_mul(0x9E37_79B1) & (MAX_FORWARDED_SOURCES - 1)) as u32;
    Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) | offset)
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
        let all: HashSet<Ipv4Addr> = (0..100_000).filter_map(|i| s.forwarded(i)).collect();
        assert_eq!(all.len(), 100_000);
        assert!(all.iter().all(|a| (u32::from(*a) >> 22) == (u32::from(Ipv4Addr::new(100, 64, 0, 0)) >> 22)));
        let prefixes: HashSet<[u8; 3]> = (0..100).filter_map(|i| s.forwarded(i)).map(|a| [a.octets()[0], a.octets()[1], a.octets()[2]]).collect();
        assert!(prefixes.len() > 90, "{}", prefixes.len());
    }
}
