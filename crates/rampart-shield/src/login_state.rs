//! [`LoginState`]: what the login guard remembers, in memory fixed at start.
//!
//! Every count is a [`SlidingWindow`] (two count-min sketches), so a flood of distinct user
//! names or sources changes counts, never memory:
//!
//! * pressure per client, per prefix and per clearance token (failed plus refused attempts),
//!   and failures per user name, each over its own configured period;
//! * for the pattern detectors, over `detect.window`: a `seen` sketch that tells whether a pair
//!   (user name, source), (password, user name) or a single source is new in the window, and a
//!   `spread` sketch counting, per key, how many new partners it had: sources per user name,
//!   user names per source, user names per password, and the window's totals;
//! * the heaviest sources and user names ([`TopK`]) for the detection events.
//!
//! A count-min sketch overestimates, so a pair may wrongly look already seen and a spread count
//! come out low; with the default sizes and tens of thousands of attempts a window, rarely.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rampart_state::{BudgetError, KeyHash, SlidingWindow, TopK};

use crate::login_key::UserTag;

/// The periods the windows count over.
pub struct Periods {
    pub client: Duration,
    pub prefix: Duration,
    pub clearance: Duration,
    pub username: Duration,
    pub detect: Duration,
}

/// One login endpoint's counts.
pub struct LoginState {
    pub client: SlidingWindow,
    pub prefix: SlidingWindow,
    pub clearance: SlidingWindow,
    pub username: SlidingWindow,
    seen: SlidingWindow,
    spread: SlidingWindow,
    pub top_sources: TopK<IpAddr>,
    pub top_users: TopK<UserTag>,
    start: Instant,
    /// End of the current distributed-stuffing defence, in nanoseconds after `start` (0: none).
    attack_until: AtomicU64,
}

/// How many slots the [`TopK`]s hold.
const TOP: usize = 32;

/// What a failure changed in the spread counts.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Distinct user names that failed from this client in the window.
    pub users_of_source: f64,
    /// Distinct sources this user name failed from.
    pub sources_of_user: f64,
    /// Distinct user names this password failed on.
    pub users_of_password: f64,
    /// Failures and distinct failing sources in the window, all sources together.
    pub failures: f64,
    pub sources: f64,
}

impl LoginState {
    /// Allocate every window now, sharing `bytes` out.
    pub fn new(bytes: usize, periods: &Periods, now: Instant) -> Result<LoginState, BudgetError> {
        let part = |n: usize| bytes / 16 * n;
        Ok(LoginState {
            client: SlidingWindow::with_budget(part(2), periods.client, now)?,
            prefix: SlidingWindow::with_budget(part(1), periods.prefix, now)?,
            clearance: SlidingWindow::with_budget(part(1), periods.clearance, now)?,
            username: SlidingWindow::with_budget(part(2), periods.username, now)?,
            seen: SlidingWindow::with_budget(part(6), periods.detect, now)?,
            spread: SlidingWindow::with_budget(part(3), periods.detect, now)?,
            top_sources: TopK::new(TOP),
            top_users: TopK::new(TOP),
            start: now,
            attack_until: AtomicU64::new(0),
        })
    }

    /// Bytes held, fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        [&self.client, &self.prefix, &self.clearance, &self.username, &self.seen, &self.spread]
            .iter()
            .map(|w| w.memory_bytes())
            .sum::<usize>()
            + TopK::<IpAddr>::bytes_for(TOP)
            + TopK::<UserTag>::bytes_for(TOP)
    }

    /// Count one failure in the detectors: `source` is the client's key, `user` and `password`
    /// the hashes when the body carried them.
    pub fn spread(
        &self,
        source: KeyHash,
        client: IpAddr,
        user: Option<UserTag>,
        password: Option<KeyHash>,
        now: Instant,
    ) -> Spread {
        let mut s =
            Spread { failures: self.spread.observe(derive(b"g:failures", &[]), 1, now).weighted, ..Spread::default() };
        let total_sources = derive(b"g:sources", &[]);
        s.sources = if self.is_new(derive(b"s", &[source.value()]), now) {
            self.spread.observe(total_sources, 1, now).weighted
        } else {
            self.spread.count(total_sources, now).weighted
        };
        self.top_sources.offer(source, 1, || client);
        if let Some(user) = user {
            let (u, src) = (user.key(), source.value());
            let (users_of_source, sources_of_user) = (derive(b"su", &[src]), derive(b"us", &[u.value()]));
            if self.is_new(derive(b"pair", &[u.value(), src]), now) {
                s.users_of_source = self.spread.observe(users_of_source, 1, now).weighted;
                s.sources_of_user = self.spread.observe(sources_of_user, 1, now).weighted;
            } else {
                s.users_of_source = self.spread.count(users_of_source, now).weighted;
                s.sources_of_user = self.spread.count(sources_of_user, now).weighted;
            }
            self.top_users.offer(u, 1, || user);
            if let Some(pw) = password {
                let users_of_password = derive(b"pu", &[pw.value()]);
                s.users_of_password = if self.is_new(derive(b"pwpair", &[pw.value(), u.value()]), now) {
                    self.spread.observe(users_of_password, 1, now).weighted
                } else {
                    self.spread.count(users_of_password, now).weighted
                };
            }
        }
        s
    }

    /// Distinct sources this user name failed from in the window (no counting).
    pub fn sources_of_user(&self, user: UserTag, now: Instant) -> f64 {
        self.spread.count(derive(b"us", &[user.key().value()]), now).weighted
    }

    /// Distinct user names this password failed on in the window (no counting).
    pub fn users_of_password(&self, password: KeyHash, now: Instant) -> f64 {
        self.spread.count(derive(b"pu", &[password.value()]), now).weighted
    }

    /// True the first time `key` is seen in the window.
    fn is_new(&self, key: KeyHash, now: Instant) -> bool {
        let c = self.seen.observe(key, 1, now);
        c.current == 1 && c.previous == 0
    }

    /// Whether a distributed-stuffing defence is on at `now`.
    pub fn under_attack(&self, now: Instant) -> bool {
        self.nanos(now) < self.attack_until.load(Ordering::Relaxed)
    }

    /// Keep the defence on until `now + hold`; returns true when it was off.
    pub fn hold_attack(&self, now: Instant, hold: Duration) -> bool {
        let until = self.nanos(now).saturating_add(u64::try_from(hold.as_nanos()).unwrap_or(u64::MAX));
        let before = self.attack_until.fetch_max(until, Ordering::Relaxed);
        before <= self.nanos(now)
    }

    fn nanos(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.start).as_nanos()).unwrap_or(u64::MAX).max(1)
    }
}

/// A sketch key for a domain and some numbers: the domains keep counts of different kinds in
/// one sketch apart.
pub fn derive(domain: &[u8], parts: &[u64]) -> KeyHash {
    let mut buf = [0u8; 48];
    let n = domain.len().min(16);
    buf[..n].copy_from_slice(&domain[..n]);
    for (i, p) in parts.iter().take(4).enumerate() {
        buf[16 + i * 8..24 + i * 8].copy_from_slice(&p.to_le_bytes());
    }
    KeyHash::of_bytes(&buf[..16 + parts.len().min(4) * 8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login_key::UsernameKey;

    fn state(now: Instant) -> LoginState {
        let d = Duration::from_secs(60);
        let p = Periods { client: d, prefix: d, clearance: d, username: d, detect: d };
        LoginState::new(1 << 20, &p, now).unwrap()
    }

    #[test]
    fn spread_counts_distinct_partners_once() {
        let now = Instant::now();
        let s = state(now);
        let key = UsernameKey::random();
        let ann = key.user("ann");
        let pw = key.password(b"hunter2");
        let ip = |i: u8| IpAddr::from([192, 0, 2, i]);
        for i in 0..5 {
            for _ in 0..3 {
                let got = s.spread(KeyHash::of_ip(ip(i)), ip(i), Some(ann), Some(pw), now);
                assert_eq!(got.sources_of_user, f64::from(i + 1));
            }
        }
        assert_eq!(s.sources_of_user(ann, now), 5.0);
        assert_eq!(s.users_of_password(pw, now), 1.0);
        let last = s.spread(KeyHash::of_ip(ip(9)), ip(9), Some(key.user("bob")), Some(pw), now);
        assert_eq!((last.users_of_password, last.failures, last.sources, last.users_of_source), (2.0, 16.0, 6.0, 1.0));
    }

    #[test]
    fn the_attack_defence_holds_and_ends() {
        let now = Instant::now();
        let s = state(now);
        assert!(!s.under_attack(now));
        assert!(s.hold_attack(now, Duration::from_secs(10)));
        assert!(!s.hold_attack(now + Duration::from_secs(5), Duration::from_secs(10)));
        assert!(s.under_attack(now + Duration::from_secs(14)));
        assert!(!s.under_attack(now + Duration::from_secs(16)));
        assert!(s.memory_bytes() <= (1 << 20) + 4096);
    }
}
