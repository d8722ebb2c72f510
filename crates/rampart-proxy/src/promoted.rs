//! Addresses whose next connections go to a lane's worker at accept.
//!
//! While the shield defends, a cleartext HTTP/1 connection is sorted by its first request head
//! (see [`crate::listener`]). A TLS connection cannot be: its first head is read only after the
//! handshake, on the worker that did it, and HTTP/2 carries many requests at once. So when staff
//! or a clearance holder is served on a shared worker over TLS (or HTTP/2), its address is
//! promoted to that lane, the connection is asked to close (`Connection: close`, or GOAWAY),
//! and the accept thread sends the address's next connections to the lane's worker, where the
//! handshake happens too.
//!
//! Only the socket's peer is promoted, and only when it is the client (no trusted proxy in
//! front, whose one address would carry everyone). The worker is CPU time, not a lane: requests
//! on it are still judged and admitted one by one, so another client behind the same address
//! (a NAT) gains a thread, not a pass; the connection caps per address bound what it can hold
//! there. Entries last [`TTL`], are looked up only while the shield defends, and there are at
//! most [`CAPACITY`]: a full table takes no more until entries expire (those clients then stay
//! where they are, as before).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::workers::Class;

/// How long an address stays promoted after its last promotion.
pub const TTL: Duration = Duration::from_secs(600);
/// The most addresses promoted at once.
pub const CAPACITY: usize = 4096;

/// The promoted addresses (see the module's documentation).
#[derive(Default)]
pub struct Promoted {
    entries: Mutex<HashMap<IpAddr, (Class, Instant)>>,
    /// Whether any entry was ever made: the accept path takes no lock until one has.
    any: AtomicBool,
}

impl Promoted {
    /// Promote `addr` to `class`'s worker (a priority class outranks a clearance) for [`TTL`]
    /// from now. False when the table is full of live entries.
    pub fn promote(&self, addr: IpAddr, class: Class) -> bool {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(&addr) {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= CAPACITY {
                return false;
            }
        }
        let entry = entries.entry(addr).or_insert((class, now));
        if class == Class::Priority {
            entry.0 = Class::Priority;
        }
        entry.1 = now + TTL;
        self.any.store(true, Ordering::Release);
        true
    }

    /// The worker `addr` is promoted to, if its promotion is still live.
    pub fn class_of(&self, addr: IpAddr) -> Option<Class> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let now = Instant::now();
        self.entries.lock().get(&addr).filter(|(_, until)| *until > now).map(|(class, _)| *class)
    }

    /// Live promotions now.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.entries.lock().values().filter(|(_, until)| *until > now).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_outranks_a_clearance_and_a_full_table_takes_no_more() {
        let p = Promoted::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(p.class_of(a), None);
        assert!(p.promote(a, Class::Cleared));
        assert_eq!(p.class_of(a), Some(Class::Cleared));
        assert!(p.promote(a, Class::Priority));
        assert!(p.promote(a, Class::Cleared));
        assert_eq!(p.class_of(a), Some(Class::Priority), "a clearance does not demote staff");
        for i in 1..CAPACITY as u32 {
            assert!(p.promote(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000u32 + i)), Class::Cleared));
        }
        assert_eq!(p.len(), CAPACITY);
        assert!(!p.promote("198.51.100.1".parse().unwrap(), Class::Priority), "full of live entries");
        assert!(p.promote(a, Class::Priority), "one already there is renewed");
    }

    #[test]
    fn an_expired_promotion_is_gone_and_makes_room() {
        let p = Promoted::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(p.promote(a, Class::Priority));
        // Expire it by hand (TTL is ten minutes).
        p.entries.lock().get_mut(&a).unwrap().1 = Instant::now() - Duration::from_secs(1);
        assert_eq!(p.class_of(a), None);
        for i in 0..CAPACITY as u32 - 1 {
            assert!(p.promote(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000u32 + i)), Class::Cleared));
        }
        assert!(p.promote("198.51.100.1".parse().unwrap(), Class::Cleared), "the expired entry made room");
        assert_eq!(p.class_of(a), None);
    }
}
