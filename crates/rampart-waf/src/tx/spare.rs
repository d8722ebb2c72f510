//! [`Spares`]: the buffers a finished transaction leaves for the next one.
//!
//! A CRS transaction fills a transformation cache (a table of a few hundred entries, the
//! transformed values, their literal groups and bytes), the `TX` table (a few hundred
//! variables), a list of about a hundred matched rules and the list of a rule's matching values.
//! Allocating them anew for every request and freeing them after
//! costs as much as a few dozen rules; instead a transaction takes a cleared set from its
//! engine when it starts and gives it back when it is dropped.
//!
//! Bounded and never waiting: at most [`MAX_SPARES`] sets of at most [`MAX_SPARE_BYTES`] each
//! are kept (the rest are freed), and a transaction that finds the list locked by another
//! thread simply allocates or frees its own.

use std::sync::{Arc, Mutex};

use super::buffers::Buffers;
use super::cache::TransformCache;
use super::eval::Hit;
use super::outcome::MatchedRule;
use super::tx_names::TxNames;
use super::tx_vars::TxVars;

/// Most sets kept: about as many as transactions run at once on a busy proxy's workers.
const MAX_SPARES: usize = 16;
/// Largest set kept (its allocated room): a typical CRS request's set takes about 110 KiB; one
/// grown by an unusually large request is freed rather than held for the next.
const MAX_SPARE_BYTES: usize = 256 * 1024;

/// One transaction's reusable buffers, empty.
#[derive(Debug)]
pub(crate) struct Spare {
    pub(crate) cache: TransformCache,
    pub(crate) hits: Vec<Hit>,
    pub(crate) matched_rules: Vec<MatchedRule>,
    pub(crate) tx: TxVars,
    pub(crate) buffers: Buffers,
}

impl Spare {
    /// About how many bytes the set holds allocated.
    fn room_bytes(&self) -> usize {
        use std::mem::size_of;
        self.cache.room_bytes()
            + self.tx.room_bytes()
            + self.hits.capacity() * size_of::<Hit>()
            + self.matched_rules.capacity() * size_of::<MatchedRule>()
            + self.buffers.room_bytes()
    }

    /// A fresh set with room for a typical request (its `TX` table for the numbered `names`).
    fn new(names: &Arc<TxNames>) -> Spare {
        Spare {
            cache: TransformCache::with_room(),
            hits: Vec::new(),
            matched_rules: Vec::new(),
            tx: TxVars::with_room(names.clone()),
            buffers: Buffers::default(),
        }
    }
}

/// The engine's list of spare sets, and the engine's numbered `TX` names (a fresh set's table
/// has a slot for each).
#[derive(Debug)]
pub(crate) struct Spares(Mutex<Vec<Spare>>, Arc<TxNames>);

impl Default for Spares {
    fn default() -> Spares {
        Spares::new(super::tx_names::NO_NAMES.clone())
    }
}

impl Spares {
    /// No spare sets yet; fresh ones for an engine with `names`.
    pub(crate) fn new(names: Arc<TxNames>) -> Spares {
        Spares(Mutex::new(Vec::new()), names)
    }

    /// A set for a new transaction: a spare one, or a fresh one.
    pub(crate) fn take(&self) -> Spare {
        self.0.try_lock().ok().and_then(|mut list| list.pop()).unwrap_or_else(|| Spare::new(&self.1))
    }

    /// Give back a finished transaction's set (emptied here; freed when the list is full or busy,
    /// or when the set grew past [`MAX_SPARE_BYTES`]).
    pub(crate) fn give(&self, mut spare: Spare) {
        if spare.room_bytes() > MAX_SPARE_BYTES {
            return;
        }
        spare.cache.clear();
        spare.hits.clear();
        spare.buffers.recycle(&mut spare.matched_rules);
        spare.matched_rules.clear();
        spare.tx.clear();
        if let Ok(mut list) = self.0.try_lock() {
            if list.len() < MAX_SPARES {
                list.push(spare);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::tx_vars::VarMap;

    #[test]
    fn kept_up_to_the_bound_and_emptied() {
        let spares = Spares::default();
        let mut taken: Vec<Spare> = (0..MAX_SPARES + 3).map(|_| spares.take()).collect();
        taken[0].tx.set("k".into(), b"v".as_slice().into());
        for s in taken {
            spares.give(s);
        }
        assert_eq!(spares.0.lock().map(|l| l.len()).unwrap_or(0), MAX_SPARES);
        assert!(spares.0.lock().is_ok_and(|l| l.iter().all(|s| s.tx.get("k").is_none())));
    }

    #[test]
    fn an_overgrown_set_is_freed() {
        let spares = Spares::default();
        let fresh = spares.take();
        assert!(fresh.room_bytes() < MAX_SPARE_BYTES / 2, "{}", fresh.room_bytes());
        let mut grown = spares.take();
        grown.hits.reserve(MAX_SPARE_BYTES / std::mem::size_of::<Hit>());
        spares.give(grown);
        spares.give(fresh);
        assert_eq!(spares.0.lock().map(|l| l.len()).unwrap_or(0), 1);
    }
}
