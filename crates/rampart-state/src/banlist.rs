//! [`BanList`]: client addresses and prefixes refused until a deadline.
//!
//! Shared by every stage that bans (rate-limit escalation, the flood detector, the console)
//! and checked on every connection and request by the `Bans` stage, so the lookup is a
//! handful of hash probes — one per prefix length actually in use — under a read lock, and
//! nothing at all while the list is empty. The number of entries is capped: when full, the
//! ban that would end soonest gives way (or the new one is refused, if it would end sooner
//! still), so a flood of bans cannot grow memory.

use std::collections::HashMap;
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
    /// Where each ban sits in `order`.
    index: HashMap<IpNet, u32>,
    /// A binary min-heap of bans by deadline: the soonest to end is at the top, for expiry
    /// and eviction in O(log n). Allocated at full capacity; never grows.
    order: Vec<(Instant, IpNet)>,
    /// How many bans of each prefix length exist, so lookups probe only lengths in use.
    v4_lengths: [u32; 33],
    v6_lengths: [u32; 129],
}

impl Entries {
    fn with_capacity(capacity: usize) -> Entries {
        Entries {
            // Twice the room needed: a table churned by removals then only ever rehashes in
            // place (hashbrown resizes only when more than half full), so it never
            // reallocates and its size is known.
            index: HashMap::with_capacity(capacity.saturating_mul(2)),
            order: Vec::with_capacity(capacity),
            v4_lengths: [0; 33],
            v6_lengths: [0; 129],
        }
    }

    fn get(&self, net: &IpNet) -> Option<Instant> {
        self.index.get(net).map(|&at| self.order[at as usize].0)
    }

    fn len(&self) -> usize {
        self.order.len()
    }

    fn soonest(&self) -> Option<(Instant, IpNet)> {
        self.order.first().copied()
    }

    fn insert(&mut self, net: IpNet, until: Instant) {
        self.order.push((until, net));
        let at = self.order.len() - 1;
        self.index.insert(net, at as u32);
        self.sift_up(at);
        *self.lengths(net) += 1;
    }

    fn remove(&mut self, net: IpNet) {
        let Some(at) = self.index.remove(&net) else { return };
        let at = at as usize;
        self.order.swap_remove(at);
        if at < self.order.len() {
            self.index.insert(self.order[at].1, at as u32);
            self.sift_down(at);
            self.sift_up(at);
        }
        *self.lengths(net) -= 1;
    }

    fn sift_up(&mut self, mut at: usize) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if self.order[parent].0 <= self.order[at].0 {
                break;
            }
            self.swap(at, parent);
            at = parent;
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let (left, right) = (2 * at + 1, 2 * at + 2);
            let mut least = at;
            if left < self.order.len() && self.order[left].0 < self.order[least].0 {
                least = left;
            }
            if right < self.order.len() && self.order[right].0 < self.order[least].0 {
                least = right;
            }
            if least == at {
                break;
            }
            self.swap(at, least);
            at = least;
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.order.swap(a, b);
        self.index.insert(self.order[a].1, a as u32);
        self.index.insert(self.order[b].1, b as u32);
    }

    fn lengths(&mut self, net: IpNet) -> &mut u32 {
        match net {
            IpNet::V4(n) => &mut self.v4_lengths[n.prefix_len() as usize],
            IpNet::V6(n) => &mut self.v6_lengths[n.prefix_len() as usize],
        }
    }

    fn purge(&mut self, now: Instant) {
        while let Some((until, net)) = self.soonest() {
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
    /// Room for `capacity` bans, all allocated now.
    pub fn new(capacity: usize) -> BanList {
        let entries = Entries::with_capacity(capacity);
        BanList { capacity, len: AtomicUsize::new(0), entries: RwLock::new(entries) }
    }

    /// The bytes a list of `capacity` bans holds: the struct, the deadline heap, and the hash
    /// index (sized as hashbrown sizes a table for `2 × capacity`, rounded up a little for
    /// its alignment padding).
    pub fn bytes_for(capacity: usize) -> usize {
        let slots = capacity.saturating_mul(2);
        let buckets = if slots < 8 { 8 } else { (slots.saturating_mul(8) / 7).next_power_of_two() };
        let index = buckets * (std::mem::size_of::<(IpNet, u32)>() + 1) + 32;
        let order = capacity * std::mem::size_of::<(Instant, IpNet)>();
        std::mem::size_of::<Self>() + index + order
    }

    /// Bytes held: fixed at construction (see [`BanList::bytes_for`]).
    pub fn memory_bytes(&self) -> usize {
        Self::bytes_for(self.capacity)
    }

    /// Ban `net` (an address is a /32 or /128) until `until`. IPv4-mapped IPv6 addresses are
    /// banned as IPv4.
    pub fn ban(&self, net: IpNet, until: Instant, now: Instant) -> BanOutcome {
        let net = canonical(net);
        let mut e = self.entries.write();
        e.purge(now);
        let outcome = if let Some(old) = e.get(&net) {
            if until > old {
                e.remove(net);
                e.insert(net, until);
            }
            BanOutcome::Extended
        } else if e.len() < self.capacity {
            e.insert(net, until);
            BanOutcome::Added
        } else {
            match e.soonest() {
                Some((soonest, victim)) if soonest < until => {
                    e.remove(victim);
                    e.insert(net, until);
                    BanOutcome::Evicted(victim)
                }
                _ => BanOutcome::Refused,
            }
        };
        self.len.store(e.len(), Ordering::Release);
        outcome
    }

    /// Lift the ban on exactly `net`; true if there was one.
    pub fn unban(&self, net: IpNet) -> bool {
        let net = canonical(net);
        let mut e = self.entries.write();
        let had = e.index.contains_key(&net);
        e.remove(net);
        self.len.store(e.len(), Ordering::Release);
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
        let probe = |net: IpNet| e.get(&net).filter(|&until| until > now);
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
        self.len.store(e.len(), Ordering::Release);
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
        let mut bans: Vec<Ban> =
            e.order.iter().filter(|(until, _)| *until > now).map(|&(until, net)| Ban { net, until }).collect();
        bans.sort_by_key(|b| b.until);
        bans
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
