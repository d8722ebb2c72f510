//! The connection guard: caps on open connections (all, per client, per prefix) and on the
//! accept rate, checked before a connection costs us more than a socket.
//!
//! Per-client counts live in sharded maps whose entries exist only while a connection is open;
//! since the total is capped, so is the maps' size — a flood of spoofed sources cannot grow them
//! past `max_connections` entries.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::settings::Limits;

const SHARDS: usize = 32;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TotalCap,
    ClientCap,
    PrefixCap,
    AcceptRate,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::TotalCap => "max_connections",
            Refusal::ClientCap => "max_connections_per_client",
            Refusal::PrefixCap => "max_connections_per_prefix",
            Refusal::AcceptRate => "accept_rate",
        }
    }
}

/// Connection accounting shared by every listener.
pub struct ConnectionGuard {
    limits: parking_lot::RwLock<GuardLimits>,
    total: AtomicUsize,
    clients: [Mutex<HashMap<IpAddr, usize>>; SHARDS],
    prefixes: [Mutex<HashMap<IpAddr, usize>>; SHARDS],
    bucket: Mutex<TokenBucket>,
}

#[derive(Debug, Clone, Copy)]
struct GuardLimits {
    total: usize,
    per_client: usize,
    per_prefix: usize,
    accept_rate: u32,
}

impl From<&Limits> for GuardLimits {
    fn from(l: &Limits) -> GuardLimits {
        GuardLimits {
            total: l.max_connections,
            per_client: l.max_connections_per_client,
            per_prefix: l.max_connections_per_prefix,
            accept_rate: l.accept_rate,
        }
    }
}

struct TokenBucket {
    tokens: f64,
    last: Instant,
}

/// Held while a connection is open; releases its counts when dropped.
pub struct ConnectionPermit {
    guard: Arc<ConnectionGuard>,
    client: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.guard.release(self.client);
    }
}

/// The /24 (IPv4) or /64 (IPv6) a client belongs to, as an address with the host bits zeroed.
pub fn prefix_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(std::net::Ipv4Addr::from(u32::from(v4) & 0xffff_ff00)),
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
    }
}

fn shard(ip: &IpAddr) -> usize {
    let h = match ip {
        IpAddr::V4(v4) => u32::from(*v4) as u64,
        IpAddr::V6(v6) => {
            let x = u128::from(*v6);
            (x as u64) ^ ((x >> 64) as u64)
        }
    };
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 59) as usize % SHARDS
}

impl ConnectionGuard {
    pub fn new(limits: &Limits) -> Arc<ConnectionGuard> {
        Arc::new(ConnectionGuard {
            limits: parking_lot::RwLock::new(limits.into()),
            total: AtomicUsize::new(0),
            clients: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            prefixes: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            bucket: Mutex::new(TokenBucket { tokens: limits.accept_rate as f64, last: Instant::now() }),
        })
    }

    /// Take new limits on reload; open connections keep their permits.
    pub fn update(&self, limits: &Limits) {
        *self.limits.write() = limits.into();
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Admit a connection from `client`, or say which cap refused it.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let limits = *self.limits.read();
        self.take_accept_token(limits.accept_rate)?;
        self.hold(client, limits)
    }

    /// Count a WebSocket tunnel on an HTTP/2 stream as the connection it is over HTTP/1.1:
    /// against the same caps (not the accept rate). A client multiplexing tunnels on one
    /// connection then holds no more upstream connections than one opening a connection for
    /// each.
    pub fn admit_tunnel(self: &Arc<Self>, client: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let limits = *self.limits.read();
        self.hold(client, limits)
    }

    fn hold(self: &Arc<Self>, client: IpAddr, limits: GuardLimits) -> Result<ConnectionPermit, Refusal> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= limits.total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::TotalCap);
        }
        if !increment(&self.clients[shard(&client)], client, limits.per_client) {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::ClientCap);
        }
        let prefix = prefix_of(client);
        if !increment(&self.prefixes[shard(&prefix)], prefix, limits.per_prefix) {
            decrement(&self.clients[shard(&client)], client);
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::PrefixCap);
        }
        Ok(ConnectionPermit { guard: Arc::clone(self), client })
    }

    fn take_accept_token(&self, rate: u32) -> Result<(), Refusal> {
        let mut bucket = self.bucket.lock();
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.last = now;
        // Burst of one second's worth: a reconnect storm of legitimate clients after a blip
        // gets through, a sustained SYN-and-drop flood does not.
        bucket.tokens = (bucket.tokens + elapsed * rate as f64).min(rate as f64);
        if bucket.tokens < 1.0 {
            return Err(Refusal::AcceptRate);
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    fn release(&self, client: IpAddr) {
        decrement(&self.clients[shard(&client)], client);
        let prefix = prefix_of(client);
        decrement(&self.prefixes[shard(&prefix)], prefix);
        self.total.fetch_sub(1, Ordering::AcqRel);
    }
}

fn increment(map: &Mutex<HashMap<IpAddr, usize>>, key: IpAddr, cap: usize) -> bool {
    let mut map = map.lock();
    let count = map.entry(key).or_insert(0);
    if *count >= cap {
        if *count == 0 {
            map.remove(&key);
        }
        return false;
    }
    *count += 1;
    true
}

fn decrement(map: &Mutex<HashMap<IpAddr, usize>>, key: IpAddr) {
    let mut map = map.lock();
    if let Some(count) = map.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, client: usize, prefix: usize) -> Limits {
        Limits {
            max_connections: total,
            max_connections_per_client: client,
            max_connections_per_prefix: prefix,
            accept_rate: 1_000_000,
            ..Limits::default()
        }
    }

    #[test]
    fn per_client_cap_and_release() {
        let g = ConnectionGuard::new(&limits(100, 2, 100));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let p1 = g.admit(a).unwrap();
        let _p2 = g.admit(a).unwrap();
        assert_eq!(g.admit(a).err(), Some(Refusal::ClientCap));
        drop(p1);
        assert!(g.admit(a).is_ok());
    }

    #[test]
    fn per_prefix_cap_groups_a_slash_24_and_a_slash_64() {
        let g = ConnectionGuard::new(&limits(100, 10, 2));
        let _a = g.admit("192.0.2.1".parse().unwrap()).unwrap();
        let _b = g.admit("192.0.2.2".parse().unwrap()).unwrap();
        assert_eq!(g.admit("192.0.2.3".parse().unwrap()).err(), Some(Refusal::PrefixCap));
        assert!(g.admit("192.0.3.1".parse().unwrap()).is_ok());
        let _c = g.admit("2001:db8::1".parse().unwrap()).unwrap();
        let _d = g.admit("2001:db8::2".parse().unwrap()).unwrap();
        assert_eq!(g.admit("2001:db8::3".parse().unwrap()).err(), Some(Refusal::PrefixCap));
    }

    #[test]
    fn total_cap_and_maps_empty_after_release() {
        let g = ConnectionGuard::new(&limits(2, 10, 10));
        let a = g.admit("192.0.2.1".parse().unwrap()).unwrap();
        let b = g.admit("198.51.100.1".parse().unwrap()).unwrap();
        assert_eq!(g.admit("203.0.113.1".parse().unwrap()).err(), Some(Refusal::TotalCap));
        drop((a, b));
        assert_eq!(g.open(), 0);
        assert!(g.clients.iter().all(|m| m.lock().is_empty()));
        assert!(g.prefixes.iter().all(|m| m.lock().is_empty()));
    }

    #[test]
    fn accept_rate_is_capped() {
        let mut l = limits(1000, 1000, 1000);
        l.accept_rate = 5;
        let g = ConnectionGuard::new(&l);
        let admitted = (0..50).filter_map(|_| g.admit("192.0.2.9".parse().unwrap()).ok()).count();
        assert!((5..10).contains(&admitted), "admitted {admitted}");
    }
}
