//! [`CidrSet`]: a set of IPv4 and IPv6 prefixes answering "is this address in it?" in
//! O(log n), for lists of tens of thousands of entries (Spamhaus DROP, FireHOL level 1–3).
//!
//! Prefixes are turned into address ranges, sorted and merged into non-overlapping runs at
//! build time (reload), so a lookup is one binary search over plain integers.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

/// A built, immutable set of prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl CidrSet {
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> CidrSet {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for net in nets {
            match canonical(net) {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        CidrSet { v4: merge(v4), v6: merge(v6) }
    }

    /// Whether `addr` lies in any prefix. IPv4-mapped IPv6 addresses match IPv4 prefixes.
    #[inline]
    pub fn contains(&self, addr: IpAddr) -> bool {
        match addr.to_canonical() {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)),
        }
    }

    /// Non-overlapping ranges held (after merging adjacent and nested prefixes).
    pub fn ranges(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges() == 0
    }
}

/// IPv4-mapped IPv6 prefixes (`::ffff:192.0.2.0/120`) as the IPv4 prefixes they mean; host
/// bits cleared.
pub(crate) fn canonical(net: IpNet) -> IpNet {
    if let IpNet::V6(n) = net {
        if let (Some(v4), true) = (n.addr().to_ipv4_mapped(), n.prefix_len() >= 96) {
            if let Ok(v4net) = Ipv4Net::new(v4, n.prefix_len() - 96) {
                return IpNet::V4(v4net.trunc());
            }
        }
    }
    net.trunc()
}

fn merge<T: Ord + Copy + Successor>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            // Overlapping or adjacent: extend the run.
            Some(last) if last.1.successor().filter(|&next| start > next).is_none() => {
                last.1 = last.1.max(end);
            }
            _ => out.push((start, end)),
        }
    }
    out.shrink_to_fit();
    out
}

fn find<T: Ord + Copy>(ranges: &[(T, T)], addr: T) -> bool {
    let after = ranges.partition_point(|&(start, _)| start <= addr);
    after > 0 && ranges[after - 1].1 >= addr
}

trait Successor: Sized {
    fn successor(self) -> Option<Self>;
}

impl Successor for u32 {
    fn successor(self) -> Option<u32> {
        self.checked_add(1)
    }
}

impl Successor for u128 {
    fn successor(self) -> Option<u128> {
        self.checked_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(nets: &[&str]) -> CidrSet {
        CidrSet::new(nets.iter().map(|n| n.parse::<IpNet>().unwrap()))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn merges_nested_and_adjacent_prefixes() {
        let s = set(&["10.0.0.0/8", "10.1.0.0/16", "11.0.0.0/8", "192.0.2.0/25", "192.0.2.128/25", "0.0.0.0/32"]);
        assert_eq!(s.ranges(), 3);
        assert!(s.contains(ip("11.255.255.255")));
        assert!(s.contains(ip("192.0.2.255")));
        assert!(s.contains(ip("::ffff:10.9.8.7")));
        assert!(!s.contains(ip("12.0.0.0")));
        assert!(!s.contains(ip("192.0.3.0")));
        assert!(s.contains(ip("0.0.0.0")));
    }

    #[test]
    fn ipv6_and_the_whole_space() {
        let s = set(&["2001:db8::/32", "::/0"]);
        assert_eq!(s.ranges(), 1);
        assert!(s.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
        let s = set(&["2001:db8::/32", "0.0.0.0/0"]);
        assert!(s.contains(ip("255.255.255.255")));
        assert!(s.contains(ip("2001:db8:ffff::1")));
        assert!(!s.contains(ip("2001:db9::1")));
    }

    #[test]
    fn large_lists_agree_with_a_linear_scan() {
        // 40,000 pseudo-random prefixes of /16../32, checked against the naive answer.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let nets: Vec<IpNet> = (0..40_000)
            .map(|_| {
                let r = next();
                let len = 16 + (r % 17) as u8;
                IpNet::V4(Ipv4Net::new(std::net::Ipv4Addr::from((r >> 32) as u32), len).unwrap().trunc())
            })
            .collect();
        let s = CidrSet::new(nets.iter().copied());
        for _ in 0..1_000 {
            let a = IpAddr::V4(std::net::Ipv4Addr::from((next() >> 32) as u32));
            assert_eq!(s.contains(a), nets.iter().any(|n| n.contains(&a)), "{a}");
        }
        for n in nets.iter().take(500) {
            assert!(s.contains(n.addr()));
        }
    }
}
