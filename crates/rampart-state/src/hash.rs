//! Keyed hashing for every sketch and table in this crate.
//!
//! Keys (client addresses, header values) are chosen by whoever sends the traffic. With a
//! public hash function an attacker could pick keys that land in the same counters as a
//! victim's and get the victim throttled. So every key is hashed with a seed drawn at random
//! once per process ([`ahash::RandomState`] with its runtime RNG), and the only way to get a
//! [`KeyHash`] is through that seed.

use std::net::IpAddr;
use std::sync::OnceLock;

/// A key's 64-bit hash under the process's secret seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash(u64);

fn seed() -> &'static ahash::RandomState {
    static SEED: OnceLock<ahash::RandomState> = OnceLock::new();
    SEED.get_or_init(ahash::RandomState::new)
}

impl KeyHash {
    /// Hash a byte key (a header value, a route name).
    pub fn of_bytes(key: &[u8]) -> KeyHash {
        KeyHash(seed().hash_one(key))
    }

    /// Hash a key that is already a number. It is hashed again with the seed, because the
    /// number itself (an address, say) may be attacker-chosen.
    pub fn of_u64(key: u64) -> KeyHash {
        KeyHash(seed().hash_one(key))
    }

    /// Hash a client address. IPv4-mapped IPv6 addresses hash as their IPv4 form, so that
    /// a dual-stack listener counts one client once.
    pub fn of_ip(addr: IpAddr) -> KeyHash {
        match addr.to_canonical() {
            IpAddr::V4(v4) => KeyHash(seed().hash_one(u32::from(v4))),
            IpAddr::V6(v6) => KeyHash(seed().hash_one(u128::from(v6))),
        }
    }

    /// The raw value, for structures that index by it.
    pub fn value(self) -> u64 {
        self.0
    }

    /// A second, independent-looking value derived from the first (the SplitMix64 finaliser),
    /// odd so that stepping by it visits every counter of a power-of-two row.
    pub(crate) fn step(self) -> u64 {
        let mut z = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) | 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_v4_hashes_like_v4() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(KeyHash::of_ip(v4), KeyHash::of_ip(mapped));
        assert_ne!(KeyHash::of_ip(v4), KeyHash::of_ip("192.0.2.8".parse().unwrap()));
    }

    #[test]
    fn numbers_are_rehashed() {
        assert_ne!(KeyHash::of_u64(1).value(), 1);
        assert_eq!(KeyHash::of_bytes(b"a"), KeyHash::of_bytes(b"a"));
    }
}
