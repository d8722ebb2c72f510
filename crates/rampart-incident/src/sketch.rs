//! Bounded summaries of the sources of an attack: how many distinct addresses
//! ([`DistinctCount`], a HyperLogLog) and which networks sent most ([`TopK`], space-saving).
//! Both have a fixed size whatever the number of sources, so a flood from ten million spoofed
//! addresses costs the same few kilobytes as one from ten.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// log2 of the HyperLogLog's register count: 4,096 one-byte registers, ±1.6% typical error.
const HLL_BITS: u32 = 12;

/// An estimate of the number of distinct addresses seen.
#[derive(Debug, Clone)]
pub struct DistinctCount {
    registers: Box<[u8]>,
}

impl Default for DistinctCount {
    fn default() -> DistinctCount {
        DistinctCount { registers: vec![0u8; 1 << HLL_BITS].into_boxed_slice() }
    }
}

impl DistinctCount {
    /// Count `addr` (again, if it was seen: that changes nothing).
    pub fn insert(&mut self, addr: IpAddr) {
        let h = hash64(&addr);
        let index = (h >> (64 - HLL_BITS)) as usize;
        let rest = (h << HLL_BITS) | (1 << (HLL_BITS - 1));
        let rank = rest.leading_zeros() as u8 + 1;
        if let Some(r) = self.registers.get_mut(index) {
            *r = (*r).max(rank);
        }
    }

    /// The estimate: HyperLogLog with the linear-counting correction for small counts.
    pub fn estimate(&self) -> u64 {
        let m = self.registers.len() as f64;
        let sum: f64 = self.registers.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
        let raw = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        let e = if raw <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { raw };
        e.round() as u64
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.registers.len()
    }
}

/// A 64-bit hash, well mixed (SipHash with fixed keys, then a finaliser).
fn hash64<T: Hash>(v: &T) -> u64 {
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new_with_keys(0x5241_4d50_4152_5421, 0x494e_4349_4445_4e54);
    v.hash(&mut h);
    let mut x = h.finish();
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}

/// The network a source is counted under: its /24 (IPv4) or /64 (IPv6), the same cut as the
/// shield's rate limits and flood detector (`rampart_shield::rate_key`), as text (`203.0.113.0/24`).
pub fn prefix_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & 0xffff_ff00)),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & !((1u128 << 64) - 1))),
    }
}

/// `prefix_of(addr)` with its length: `203.0.113.0/24`, `2001:db8::/64`.
pub fn prefix_text(prefix: IpAddr) -> String {
    match prefix {
        IpAddr::V4(_) => format!("{prefix}/24"),
        IpAddr::V6(_) => format!("{prefix}/64"),
    }
}

/// One counter of a [`TopK`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter<K> {
    pub key: K,
    /// Counted for this key; over-estimated by at most `error`.
    pub count: u64,
    /// The count the key inherited when it took an evicted key's slot.
    pub error: u64,
}

/// The heaviest keys of a stream in a fixed number of counters (Metwally et al.'s
/// space-saving): a key that is not counted takes the slot of the smallest counter and
/// inherits its count as its error. Every key whose true count exceeds `total / capacity` is
/// in the table.
#[derive(Debug, Clone)]
pub struct TopK<K> {
    counters: Vec<Counter<K>>,
    capacity: usize,
}

impl<K: PartialEq + Clone> TopK<K> {
    /// A table of `capacity` counters (at least one).
    pub fn new(capacity: usize) -> TopK<K> {
        let capacity = capacity.max(1);
        TopK { counters: Vec::with_capacity(capacity), capacity }
    }

    /// Count `n` more for `key`.
    pub fn add(&mut self, key: &K, n: u64) {
        if let Some(c) = self.counters.iter_mut().find(|c| c.key == *key) {
            c.count += n;
            return;
        }
        if self.counters.len() < self.capacity {
            self.counters.push(Counter { key: key.clone(), count: n, error: 0 });
            return;
        }
        if let Some(min) = self.counters.iter_mut().min_by_key(|c| c.count) {
            let floor = min.count;
            *min = Counter { key: key.clone(), count: floor + n, error: floor };
        }
    }

    /// The `k` heaviest, heaviest first.
    pub fn top(&self, k: usize) -> Vec<Counter<K>> {
        let mut v = self.counters.clone();
        v.sort_by_key(|c| std::cmp::Reverse(c.count));
        v.truncate(k);
        v
    }

    /// Counters held (never more than the capacity).
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn prefixes_are_slash_24_and_slash_64() {
        assert_eq!(prefix_text(prefix_of("203.0.113.77".parse().unwrap())), "203.0.113.0/24");
        assert_eq!(prefix_text(prefix_of("2001:db8:1:2:3:4:5:6".parse().unwrap())), "2001:db8:1:2::/64");
    }

    #[test]
    fn a_million_sources_stay_in_fixed_memory_and_the_heavy_networks_are_found() {
        let mut distinct = DistinctCount::default();
        let mut top = TopK::new(40);
        // 1,000,000 distinct sources spread over 2^20 addresses, plus three heavy /24s.
        for i in 0..1_000_000u32 {
            let a = v4(0x0a00_0000 + i.wrapping_mul(2_654_435_761) % (1 << 24));
            distinct.insert(a);
            top.add(&prefix_of(a), 1);
            if i % 10 == 0 {
                top.add(&prefix_of(v4(0xc633_6400 + i % 200)), 1); // 198.51.100.0/24
            }
            if i % 20 == 0 {
                top.add(&prefix_of(v4(0xcb00_7100)), 1); // 203.0.113.0/24
            }
        }
        assert_eq!(distinct.memory_bytes(), 4096);
        let e = distinct.estimate() as f64;
        // The multiplier is odd, so the million addresses are distinct.
        assert!((e - 1_000_000.0).abs() / 1_000_000.0 < 0.05, "estimate {e}");
        assert!(top.len() <= 40);
        let t = top.top(3);
        assert_eq!(prefix_text(t[0].key), "198.51.100.0/24");
        assert_eq!(prefix_text(t[1].key), "203.0.113.0/24");
        assert!(t[0].count >= 100_000 && t[0].count - t[0].error <= 100_000, "{:?}", t[0]);
    }

    #[test]
    fn small_counts_are_exact_enough() {
        let mut d = DistinctCount::default();
        for i in 0..100 {
            d.insert(v4(i));
            d.insert(v4(i));
        }
        let e = d.estimate();
        assert!((98..=102).contains(&e), "{e}");
    }
}
