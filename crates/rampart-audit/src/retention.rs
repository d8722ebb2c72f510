//! Retention: removing whole old segments by total size and by age, keeping what verification
//! of the rest needs.
//!
//! The writer knows the tree as it was where each segment begins. To remove the first `n`
//! segments it first signs a checkpoint of the current tree (so the kept records are vouched
//! for), then writes the tree at the first kept segment's start to the `base` file (fsynced),
//! and only then deletes the segments and the checkpoints they alone covered. A crash between
//! the two leaves segments wholly before the base, which the next open removes.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::checkpoint;
use crate::error::AuditError;
use crate::log::sync_dir;
use crate::merkle::Frontier;

/// A segment and the tree as it was where it begins.
#[derive(Debug, Clone)]
pub(crate) struct SegmentStart {
    pub path: PathBuf,
    pub frontier: Frontier,
}

/// When old segments go. Both `None`: never (the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Remove the oldest segments while all segments together exceed this many bytes.
    pub max_bytes: Option<u64>,
    /// Remove segments whose last write is older than this.
    pub max_age: Option<Duration>,
}

impl Retention {
    fn active(&self) -> bool {
        self.max_bytes.is_some() || self.max_age.is_some()
    }

    /// How many leading segments are due for removal; never the last (the one being written).
    fn due(&self, segments: &VecDeque<SegmentStart>, now: SystemTime) -> usize {
        let meta: Vec<(u64, SystemTime)> = segments
            .iter()
            .map_while(|s| std::fs::metadata(&s.path).ok().map(|m| (m.len(), m.modified().unwrap_or(now))))
            .collect();
        if meta.len() != segments.len() {
            return 0; // cannot size every segment: remove nothing rather than guess
        }
        let mut total: u64 = meta.iter().map(|m| m.0).sum();
        let mut n = 0;
        while n + 1 < segments.len() {
            let (len, modified) = meta[n];
            let old = self.max_age.is_some_and(|a| now.duration_since(modified).unwrap_or_default() > a);
            let big = self.max_bytes.is_some_and(|m| total > m);
            if !(old || big) {
                break;
            }
            total -= len;
            n += 1;
        }
        n
    }

    /// Remove what is due. Returns how many segments went.
    pub(crate) fn apply(&self, dir: &Path, segments: &mut VecDeque<SegmentStart>) -> Result<usize, AuditError> {
        if !self.active() {
            return Ok(0);
        }
        let n = self.due(segments, SystemTime::now());
        if n == 0 {
            return Ok(0);
        }
        let base = segments[n].frontier.clone();
        crate::base::store(dir, &base)?;
        for s in segments.drain(..n) {
            std::fs::remove_file(&s.path).map_err(AuditError::io(&s.path))?;
        }
        sync_dir(dir)?;
        let cdir = dir.join(checkpoint::CHECKPOINT_DIR);
        for (size, path) in checkpoint::list(dir).map_err(AuditError::io(&cdir))? {
            if size < base.size() {
                std::fs::remove_file(&path).map_err(AuditError::io(&path))?;
            }
        }
        tracing::info!(target: "rampart::audit", segments = n, first_kept = base.size(), "retention removed old segments");
        Ok(n)
    }
}
