//! [`MemoryBudget`]: the configured `memory_ceiling`, shared out among the structures that
//! hold per-client state, refusing at start a configuration that cannot fit.

/// Why a structure or a configuration does not fit its memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// One structure was given less than it needs to work at all.
    #[error("{what}: {bytes} bytes is too small, it needs at least {min}")]
    TooSmall { what: &'static str, bytes: usize, min: usize },
    /// The structures together need more than the ceiling.
    #[error("state needs at least {needed} bytes ({detail}) but memory_ceiling is {ceiling}")]
    DoesNotFit { ceiling: usize, needed: usize, detail: String },
}

/// One structure's claim on the ceiling: at least `min_bytes`, and a `weight`-proportional
/// share of whatever is left once every minimum is met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    pub what: String,
    pub min_bytes: usize,
    pub weight: u32,
}

impl Demand {
    pub fn new(what: impl Into<String>, min_bytes: usize, weight: u32) -> Demand {
        Demand { what: what.into(), min_bytes, weight }
    }
}

/// The memory ceiling and what has been handed out of it. Built once per configuration
/// (at start and on reload); nothing here runs per request.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    ceiling: usize,
    reserved: usize,
}

impl MemoryBudget {
    pub fn new(ceiling: usize) -> MemoryBudget {
        MemoryBudget { ceiling, reserved: 0 }
    }

    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    pub fn remaining(&self) -> usize {
        self.ceiling - self.reserved
    }

    /// Take exactly `bytes` for `what`, or refuse if they are not left.
    pub fn reserve(&mut self, what: &str, bytes: usize) -> Result<usize, BudgetError> {
        if bytes > self.remaining() {
            return Err(BudgetError::DoesNotFit {
                ceiling: self.ceiling,
                needed: self.reserved.saturating_add(bytes),
                detail: format!("{what} asks {bytes} with {} left", self.remaining()),
            });
        }
        self.reserved += bytes;
        Ok(bytes)
    }

    /// Share everything that is left among `demands`: each gets its minimum plus a
    /// weight-proportional part of the rest, in the order given. Refuses, naming every
    /// demand, when the minimums alone exceed what is left.
    pub fn split(&mut self, demands: &[Demand]) -> Result<Vec<usize>, BudgetError> {
        let needed: usize = demands.iter().map(|d| d.min_bytes).fold(0, usize::saturating_add);
        let left = self.remaining();
        if needed > left {
            let detail = demands
                .iter()
                .map(|d| format!("{} ≥ {}", d.what, d.min_bytes))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(BudgetError::DoesNotFit {
                ceiling: self.ceiling,
                needed: self.reserved.saturating_add(needed),
                detail,
            });
        }
        let spare = (left - needed) as u128;
        let total_weight: u128 = demands.iter().map(|d| d.weight as u128).sum();
        let shares = demands
            .iter()
            .map(|d| {
                let extra = (spare * d.weight as u128).checked_div(total_weight).unwrap_or(0);
                // `extra <= spare <= usize::MAX`, so the cast cannot truncate.
                d.min_bytes + extra as usize
            })
            .collect::<Vec<_>>();
        self.reserved += shares.iter().sum::<usize>();
        Ok(shares)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_gives_minimums_then_weights() {
        let mut b = MemoryBudget::new(1000);
        let shares = b.split(&[Demand::new("a", 100, 3), Demand::new("b", 100, 1)]).unwrap();
        assert_eq!(shares, vec![700, 300]);
        assert_eq!(b.remaining(), 0);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let mut b = MemoryBudget::new(1000);
        b.reserve("ban list", 600).unwrap();
        let err = b.split(&[Demand::new("rate_limit[0]", 300, 1), Demand::new("rate_limit[1]", 300, 1)]);
        assert!(matches!(err, Err(BudgetError::DoesNotFit { needed: 1200, .. })));
        assert!(b.reserve("more", 401).is_err());
        assert_eq!(b.reserve("more", 400), Ok(400));
    }
}
