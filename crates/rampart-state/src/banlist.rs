//! [`BanList`]: client addresses and prefixes refused until a deadline.
//!
//! Shared by every stage that bans (rate-limit escalation, the flood detector, the console)
//! and checked on every connection and request by the `Bans` stage, so the lookup is a
//! handful of hash probes — one per prefix length actually in use — under a read lock, and
//! nothing at all while the list is empty. The number of entries is capped: when full, the
//! ban that would end soonest gives way (or the new one is refused, if it would end sooner
//! still), so a flood of bans cannot grow memory.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use parking_lot::RwLock;

/// What [`BanList::ban`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanOutcome {
    Added,
    /// Already banned; the deadline is now the later of the two.
    Extended,
    /// Added, and the list being full, this ban (the soonest to end) was dropped.
    Evicted(IpNet),
    /// The list is full of bans that all end later than this one: not added.
    Refused,
}

/// A ban as listed for the console and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ban {
    pub net: IpNet,
    pub until: Instant,
}

struct Entries {
    by_net: HashMap<IpNet, Instant>,
    by_deadline: BTreeSet<(Instant, IpNet)>,
    /// How many bans of each prefix length exist, so lookups probe only lengths in use.
    v4_lengths: [u32; 33],
    v6_lengths: [u32; 129],
}

impl Entries {
    fn remove(&mut self, net: IpNet) {
        if let Some(until) = self.by_net.remove(&net) {
            self.by_deadline.remove(&(until, net));
            *self.lengths(net) -= 1;
        }
    }

    fn insert(&mut self, net: IpNet, until: Instant) {
        self.by_net.insert(net, until);
        self.by_deadline.insert((until, net));
        *self.lengths(net) += 1;
    }

    fn lengths(&mut self, net: IpNet) -> &mut u32 {
        match net {
            IpNet::V4(n) => &mut self.v4_lengths[n.prefix_len() as usize],
            IpNet::V6(n) => &mut self.v6_lengths[n.prefix_len() as usize],
        }
    }

    fn purge(&mut self, now: Instant) {
        while let Some(&(until, net)) = self.by_deadline.first() {
            if until > now {
                break;
            }
            self.remove(net);
        }
    }
}

/// Banned addresses and prefixes, each until its deadline; at most `capacity` of them.
pub struct BanList {
    capacity: usize,
    len: AtomicUsize,
    entries: RwLock<Entries>,
}

impl BanList {
    /// Room for `capacity` bans. The hash index is allocated now; the deadline order grows
    /// with the bans, never past `capacity` entries.
    pub fn new(capacity: usize) -> BanList {
        let entries = Entries {
            by_net: HashMap::with_capacity(capacity),
            by_deadline: BTreeSet::new(),
            v4_lengths: [0; 33],
            v6_lengths: [0; 129],
        };
        BanList { capacity, len: AtomicUsize::new(0), entries: RwLock::new(entries) }
    }

    /// The most bytes a list of `capacity` bans can hold: the hash index (allowing for one
    /// rehash into double size, which a table churned by removals may do) plus the
    /// deadline order's B-tree nodes at worst half full.
    pub fn bytes_for(capacity: usize) -> usize {
        let entry = std::mem::size_of::<(IpNet, Instant)>();
        let buckets = (capacity.saturating_mul(8) / 7 + 1).next_power_of_two();
        let index = 2 * (buckets * (entry + 1) + 16);
        let order = capacity * 2 * std::mem::size_of::<(Instant, IpNet)>() + (capacity / 5 + 1) * 96;
        std::mem::size_of::<Self>() + index + order
    }

    /// The bound of [`BanList::bytes_for`] for this list: its memory never exceeds it.
    pub fn memory_bytes(&self) -> usize {
        Self::bytes_for(self.capacity)
    }

    /// Ban `net` (an address is a /32 or /128) until `until`. IPv4-mapped IPv6 addresses are
    /// banned as IPv4.
    pub fn ban(&self, net: IpNet, until: Instant, now: Instant) -> BanOutcome {
        let net = canonical(net);
        let mut e = self.entries.write();
        e.purge(now);
        let outcome = if let Some(&old) = e.by_net.get(&net) {
            if until > old {
                e.remove(net);
                e.insert(net, until);
            }
            BanOutcome::Extended
        } else if e.by_net.len() < self.capacity {
            e.insert(net, until);
            BanOutcome::Added
        } else {
            match e.by_deadline.first().copied() {
                Some((soonest, victim)) if soonest < until => {
                    e.remove(victim);
                    e.insert(net, until);
                    BanOutcome::Evicted(victim)
                }
                _ => BanOutcome::Refused,
            }
        };
        self.len.store(e.by_net.len(), Ordering::Release);
        outcome
    }

    /// Lift the ban on exactly `net`; true if there was one.
    pub fn unban(&self, net: IpNet) -> bool {
        let net = canonical(net);
        let mut e = self.entries.write();
        let had = e.by_net.contains_key(&net);
        e.remove(net);
        self.len.store(e.by_net.len(), Ordering::Release);
        had
    }

    /// When the ban covering `addr` ends, if one is in force at `now` (the latest, when
    /// several prefixes cover it).
    #[inline]
    pub fn banned_until(&self, addr: IpAddr, now: Instant) -> Option<Instant> {
        if self.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let e = self.entries.read();
        let probe = |net: IpNet| e.by_net.get(&net).copied().filter(|&until| until > now);
        match addr.to_canonical() {
            IpAddr::V4(a) => (0..=32u8)
                .filter(|&l| e.v4_lengths[l as usize] > 0)
                .filter_map(|l| Ipv4Net::new(a, l).ok().map(|n| probe(IpNet::V4(n.trunc()))))
                .flatten()
                .max(),
            IpAddr::V6(a) => (0..=128u8)
                .filter(|&l| e.v6_lengths[l as usize] > 0)
                .filter_map(|l| Ipv6Net::new(a, l).ok().map(|n| probe(IpNet::V6(n.trunc()))))
                .flatten()
                .max(),
        }
    }

    pub fn is_banned(&self, addr: IpAddr, now: Instant) -> bool {
        self.banned_until(addr, now).is_some()
    }

    /// Drop every ban that has ended by `now`. Bans also lapse on their own at lookup; this
    /// only frees their room (a background tick, or the next `ban`, calls it).
    pub fn purge_expired(&self, now: Instant) {
        let mut e = self.entries.write();
        e.purge(now);
        self.len.store(e.by_net.len(), Ordering::Release);
    }

    /// Bans currently listed (including lapsed ones not yet purged).
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Every ban in force at `now`, soonest to end first.
    pub fn list(&self, now: Instant) -> Vec<Ban> {
        let e = self.entries.read();
        e.by_deadline.iter().filter(|(until, _)| *until > now).map(|&(until, net)| Ban { net, until }).collect()
    }
}

fn canonical(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(n) => match n.addr().to_ipv4_mapped() {
            Some(v4) if n.prefix_len() >= 96 => {
                Ipv4Net::new(v4, n.prefix_len() - 96).map(IpNet::V4).unwrap_or(net).trunc()
            }
            _ => net.trunc(),
        },
        IpNet::V4(_) => net.trunc(),
    }
}

#[cfg(test)]
mod tests;
