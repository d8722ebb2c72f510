//! `rampart audit verify`: check a log directory from its files alone.
//!
//! Every checkpoint's signature is checked; the tree is rebuilt from the records; each record's
//! sequence number must be its position; the tree at each checkpoint's size must have that
//! checkpoint's root, which also makes successive checkpoints consistent (both are prefixes of
//! the one rebuilt tree); and the log must reach the largest checkpoint. A torn tail after the
//! last checkpoint is what a crash leaves and is reported, not failed.

use std::fs;
use std::path::{Path, PathBuf};

use crate::checkpoint::{self, Checkpoint};
use crate::error::AuditError;
use crate::merkle::Hash;
use crate::note::NoteVerifier;
use crate::replay::{Expected, Replay};
use crate::segment::{self, TornTail};

/// The verifier key file a log directory keeps (convenience only: pin the key you hold with
/// `--key`, since whoever can rewrite the directory can rewrite this file too).
pub const VERIFIER_KEY_FILE: &str = "verifier-key";

/// A verified log.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The first kept record: records before it were removed by retention (0: none were).
    pub start: u64,
    /// The `base` frontier when `start > 0`.
    pub base: Option<crate::merkle::Frontier>,
    /// The tree size (`start` plus the kept records).
    pub records: u64,
    pub segments: usize,
    pub checkpoints: usize,
    /// The largest checkpoint.
    pub latest: Option<Expected>,
    /// The root of the whole log (which may extend past the latest checkpoint).
    pub root: Hash,
    pub torn: Option<TornTail>,
    /// Every leaf hash, when asked for.
    pub leaves: Option<Vec<Hash>>,
}

/// The verifier key: `key` (a key, or a file holding one) or the directory's own file.
pub fn resolve_key(dir: &Path, key: Option<&str>) -> Result<(NoteVerifier, bool), AuditError> {
    let (text, path, from_dir) = match key {
        Some(k) if NoteVerifier::parse(k).is_ok() => (k.to_string(), PathBuf::from("--key"), false),
        Some(k) => (fs::read_to_string(k).map_err(AuditError::io(k))?, PathBuf::from(k), false),
        None => {
            let p = dir.join(VERIFIER_KEY_FILE);
            match fs::read_to_string(&p) {
                Ok(t) => (t, p, true),
                Err(_) => return Err(AuditError::NoVerifierKey),
            }
        }
    };
    let v = NoteVerifier::parse(text.trim()).map_err(|source| AuditError::Key { path, source })?;
    Ok((v, from_dir))
}

/// Read and check one signed checkpoint file.
pub fn read_checkpoint(path: &Path, verifier: &NoteVerifier) -> Result<Checkpoint, AuditError> {
    let bytes = fs::read(path).map_err(AuditError::io(path))?;
    let note = String::from_utf8(bytes)
        .map_err(|_| AuditError::Checkpoint { path: path.into(), source: crate::note::NoteError::MalformedNote("not UTF-8") })?;
    Checkpoint::open(&note, verifier).map_err(|source| AuditError::Checkpoint { path: path.into(), source })
}

/// The log's own checkpoints, each checked, by size.
pub fn checkpoints(dir: &Path, verifier: &NoteVerifier) -> Result<Vec<Expected>, AuditError> {
    let cdir = dir.join(checkpoint::CHECKPOINT_DIR);
    let mut out = Vec::new();
    for (size, path) in checkpoint::list(dir).map_err(AuditError::io(&cdir))? {
        let cp = read_checkpoint(&path, verifier)?;
        if cp.size != size {
            let reason = format!("the file name says tree size {size}, the signed body {}", cp.size);
            return Err(AuditError::CheckpointInconsistent { checkpoint: path, reason });
        }
        out.push(Expected { path, checkpoint: cp });
    }
    Ok(out)
}

/// Verify the log in `dir` against its checkpoints and `extra` (checkpoints held elsewhere).
pub fn verify(dir: &Path, verifier: &NoteVerifier, extra: &[PathBuf], keep_leaves: bool) -> Result<Verified, AuditError> {
    verify_with(dir, verifier, extra, keep_leaves, &mut |_, _| {})
}

/// [`verify`], handing each record (its index and canonical bytes) to `read` once its frame and
/// position have checked out, in order: a reader of the log in one pass. What `read` was given
/// counts only if the whole call returns `Ok` (a later record can still fail the log).
pub fn verify_with(
    dir: &Path,
    verifier: &NoteVerifier,
    extra: &[PathBuf],
    keep_leaves: bool,
    read: &mut dyn FnMut(u64, &[u8]),
) -> Result<Verified, AuditError> {
    let mut expected = checkpoints(dir, verifier)?;
    let own = expected.len();
    for path in extra {
        let checkpoint = read_checkpoint(path, verifier)?;
        expected.push(Expected { path: path.clone(), checkpoint });
    }
    let latest = expected.iter().max_by_key(|e| e.checkpoint.size).cloned();
    let base = crate::base::load(dir)?;
    let mut replay = Replay::new(expected, keep_leaves, base.clone())?;
    let scanned = segment::scan(dir, &mut |frame| {
        let (index, payload) = (frame.index, frame.payload);
        replay.visit(frame)?;
        read(index, payload);
        Ok(())
    })?;
    replay.finish(&scanned)?;
    if let Some(stale) = scanned.stale.first() {
        let reason = "a segment wholly before the base file's start: an interrupted retention pass (the writer removes it on start)";
        return Err(AuditError::Corrupt { segment: stale.clone(), offset: 0, index: 0, reason: reason.into() });
    }
    if scanned.records > scanned.start && latest.as_ref().is_none_or(|l| l.checkpoint.size < scanned.start) {
        return Err(AuditError::CheckpointInconsistent {
            checkpoint: dir.join(checkpoint::CHECKPOINT_DIR),
            reason: format!("{} records and no signed checkpoint: nothing vouches for them", scanned.records),
        });
    }
    Ok(Verified {
        start: scanned.start,
        base,
        records: scanned.records,
        segments: scanned.segments.len(),
        checkpoints: own,
        latest,
        root: replay.frontier.root(),
        torn: scanned.torn,
        leaves: replay.leaves,
    })
}
