//! Replaying the records of a log into a tree and holding it to the signed checkpoints: the
//! core of both opening a log for writing and verifying one.

use std::path::PathBuf;

use crate::checkpoint::Checkpoint;
use crate::error::AuditError;
use crate::merkle::{empty_root, leaf_hash, Frontier, Hash};
use crate::record::seq_of;
use crate::segment::{Frame, Scanned};

/// A checkpoint to hold the records to, with the file it came from.
#[derive(Debug, Clone)]
pub struct Expected {
    pub path: PathBuf,
    pub checkpoint: Checkpoint,
}

/// The tree being rebuilt and the checkpoints still ahead of it.
pub(crate) struct Replay {
    pub frontier: Frontier,
    /// Sorted by size.
    expected: Vec<Expected>,
    next: usize,
    /// The first record after the last matched checkpoint: where an alteration may start.
    window: Option<(u64, PathBuf, u64)>,
    /// Every leaf hash from the base on, when proofs are wanted.
    pub leaves: Option<Vec<Hash>>,
    /// The tree as it was where each segment begins (what retention writes to `base`).
    pub segment_starts: Vec<(u64, Frontier)>,
    last_segment: Option<PathBuf>,
}

impl Replay {
    /// A replay against `expected` (any order) from `base` (the log's `base` frontier, if
    /// retention removed a prefix); keeps every leaf hash if `keep_leaves`.
    ///
    /// Checkpoints before the base cover removed records: their signatures were checked by
    /// whoever read them, their roots can no longer be. One exactly at the base must match it.
    pub fn new(mut expected: Vec<Expected>, keep_leaves: bool, base: Option<Frontier>) -> Result<Replay, AuditError> {
        let frontier = base.unwrap_or_default();
        expected.retain(|e| e.checkpoint.size >= frontier.size());
        expected.sort_by_key(|e| e.checkpoint.size);
        let mut r = Replay {
            frontier,
            expected,
            next: 0,
            window: None,
            leaves: keep_leaves.then(Vec::new),
            segment_starts: Vec::new(),
            last_segment: None,
        };
        let root = if r.frontier.size() == 0 { empty_root() } else { r.frontier.root() };
        while let Some(e) = r.expected.get(r.next).filter(|e| e.checkpoint.size == r.frontier.size()) {
            if e.checkpoint.root != root {
                let reason = format!("its root differs from the tree of size {} (the empty tree, or the base file)", r.frontier.size());
                return Err(AuditError::CheckpointInconsistent { checkpoint: e.path.clone(), reason });
            }
            r.next += 1;
        }
        Ok(r)
    }

    /// One intact frame, in order.
    pub fn visit(&mut self, frame: Frame<'_>) -> Result<(), AuditError> {
        match seq_of(frame.payload) {
            Some(seq) if seq == frame.index => {}
            Some(found) => {
                return Err(AuditError::OutOfOrder { segment: frame.segment.to_path_buf(), offset: frame.offset, index: frame.index, found })
            }
            None => {
                return Err(AuditError::Corrupt {
                    segment: frame.segment.to_path_buf(),
                    offset: frame.offset,
                    index: frame.index,
                    reason: "the payload is not a record".into(),
                })
            }
        }
        if self.last_segment.as_deref() != Some(frame.segment) {
            self.last_segment = Some(frame.segment.to_path_buf());
            self.segment_starts.push((frame.index, self.frontier.clone()));
        }
        if self.window.is_none() {
            self.window = Some((frame.index, frame.segment.to_path_buf(), frame.offset));
        }
        let leaf = leaf_hash(frame.payload);
        self.frontier.push(leaf);
        if let Some(leaves) = &mut self.leaves {
            leaves.push(leaf);
        }
        let size = self.frontier.size();
        if self.expected.get(self.next).is_some_and(|e| e.checkpoint.size == size) {
            let root = self.frontier.root();
            while let Some(e) = self.expected.get(self.next).filter(|e| e.checkpoint.size == size) {
                if e.checkpoint.root != root {
                    let (from, segment, offset) = self.window.clone().unwrap_or_default();
                    return Err(AuditError::CheckpointMismatch { checkpoint: e.path.clone(), size, from, segment, offset });
                }
                self.next += 1;
            }
            self.window = None;
        }
        Ok(())
    }

    /// After the scan: every checkpoint must have been reached.
    pub fn finish(&self, scanned: &Scanned) -> Result<(), AuditError> {
        if let Some(e) = self.expected.get(self.next) {
            let tail = match &scanned.torn {
                Some(t) => format!(" (the log ends in a {t})"),
                None => String::new(),
            };
            return Err(AuditError::Truncated { checkpoint: e.path.clone(), size: e.checkpoint.size, records: self.frontier.size(), tail });
        }
        Ok(())
    }
}
