//! How legitimate users fared: per group (priority classes, clearance holders, the public),
//! how many requests were served and their latency, in fixed-size log-linear histograms.

use crate::model::{GroupStats, Groups};

/// Sub-buckets per power of two: quantiles are within ~19% of the true value.
const SUB: u32 = 4;
/// Powers of two covered, in microseconds: up to 2^40 µs (~12 days).
const POWERS: u32 = 40;
const BUCKETS: usize = (SUB * POWERS) as usize;

/// A latency histogram in microseconds; fixed size (1.3 KiB).
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram { counts: Box::new([0; BUCKETS]), total: 0 }
    }
}

fn bucket(us: u64) -> usize {
    let us = us.max(1);
    let power = 63 - us.leading_zeros();
    let sub = if power >= 2 { (us >> (power - 2)) & 0b11 } else { (us << (2 - power)) & 0b11 };
    ((power * SUB) as usize + sub as usize).min(BUCKETS - 1)
}

/// The upper bound of a bucket, in microseconds.
fn upper(b: usize) -> u64 {
    let power = b as u32 / SUB;
    let sub = u64::from(b as u32 % SUB);
    let base = 1u64 << power;
    base + (base * (sub + 1)) / u64::from(SUB)
}

impl Histogram {
    pub fn record(&mut self, us: u64) {
        self.counts[bucket(us)] += 1;
        self.total += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
    }

    /// The `q` quantile (0..=1) in milliseconds, `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(upper(b) as f64 / 1000.0);
            }
        }
        None
    }
}

/// Who sent a request, as far as the shield verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// A `[[priority]]` class other than the public (staff).
    Priority,
    /// A client holding a valid clearance (it passed a challenge).
    Clearance,
    /// Everyone else.
    Public,
}

/// Served count and latency of one group.
#[derive(Debug, Clone, Default)]
pub struct GroupAcc {
    requests: u64,
    served: u64,
    latency: Histogram,
}

impl GroupAcc {
    fn stats(&self) -> GroupStats {
        GroupStats {
            requests: self.requests,
            served: self.served,
            success_rate: (self.requests > 0).then(|| self.served as f64 / self.requests as f64),
            p50_ms: self.latency.quantile_ms(0.50),
            p99_ms: self.latency.quantile_ms(0.99),
        }
    }

    fn merge(&mut self, other: &GroupAcc) {
        self.requests += other.requests;
        self.served += other.served;
        self.latency.merge(&other.latency);
    }
}

/// The three groups.
#[derive(Debug, Clone, Default)]
pub struct GroupsAcc {
    pub priority: GroupAcc,
    pub clearance: GroupAcc,
    pub public: GroupAcc,
}

impl GroupsAcc {
    /// One finished request: its group, whether it was served (reached the app and got no
    /// 5xx), its latency.
    pub fn record(&mut self, group: Group, served: bool, latency_us: u64) {
        let g = match group {
            Group::Priority => &mut self.priority,
            Group::Clearance => &mut self.clearance,
            Group::Public => &mut self.public,
        };
        g.requests += 1;
        if served {
            g.served += 1;
            g.latency.record(latency_us);
        }
    }

    pub fn merge(&mut self, other: &GroupsAcc) {
        self.priority.merge(&other.priority);
        self.clearance.merge(&other.clearance);
        self.public.merge(&other.public);
    }

    pub fn stats(&self) -> Groups {
        Groups { priority: self.priority.stats(), clearance: self.clearance.stats(), public: self.public.stats() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_close_upper_bounds() {
        let mut h = Histogram::default();
        for us in 1..=10_000u64 {
            h.record(us * 100); // 0.1 ms .. 1 s, uniform
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((500.0..=625.0).contains(&p50), "{p50}");
        assert!((990.0..=1240.0).contains(&p99), "{p99}");
        assert_eq!(Histogram::default().quantile_ms(0.5), None);
        for us in [0, 1, 2, 3, 5, 1 << 50] {
            let b = bucket(us);
            assert!(b < BUCKETS && (us >= 1 << 40 || upper(b) >= us.max(1)), "{us} -> {b}");
        }
    }

    #[test]
    fn success_rate_counts_refused_requests() {
        let mut g = GroupsAcc::default();
        g.record(Group::Priority, true, 2_000);
        g.record(Group::Priority, false, 0);
        let s = g.stats();
        assert_eq!(s.priority.success_rate, Some(0.5));
        assert_eq!(s.public.success_rate, None);
    }
}
