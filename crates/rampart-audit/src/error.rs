//! What can go wrong opening, writing or verifying a log. Every error about the log's contents
//! names where: the segment file, the byte offset in it and the record index.

use std::path::PathBuf;

use crate::note::NoteError;

/// An error of the audit log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A frame whose length, checksum or contents are wrong, before the end of the log.
    #[error("record {index} ({segment}, offset {offset}): {reason}")]
    Corrupt { segment: PathBuf, offset: u64, index: u64, reason: String },
    /// A record whose sequence number is not its position: one was removed, inserted or moved.
    #[error("record {index} ({segment}, offset {offset}) carries sequence number {found}: a record was removed, inserted or moved")]
    OutOfOrder { segment: PathBuf, offset: u64, index: u64, found: u64 },
    /// A segment does not start where the previous one ended.
    #[error("{segment} starts at record {named} but the log before it holds {expected} records: a segment was removed or renamed")]
    SegmentGap { segment: PathBuf, named: u64, expected: u64 },
    /// The records do not hash to a signed checkpoint's root.
    #[error("the records do not match checkpoint {checkpoint} (tree size {size}): a record among {from}..{size} (from {segment}, offset {offset}) was altered")]
    CheckpointMismatch { checkpoint: PathBuf, size: u64, from: u64, segment: PathBuf, offset: u64 },
    /// The log holds fewer records than a signed checkpoint covers.
    #[error("the log holds {records} records but checkpoint {checkpoint} covers {size}: records {records}..{size} were removed{tail}")]
    Truncated { checkpoint: PathBuf, size: u64, records: u64, tail: String },
    /// Two checkpoints of one size with different roots, or a checkpoint name that is not its size.
    #[error("checkpoint {checkpoint}: {reason}")]
    CheckpointInconsistent { checkpoint: PathBuf, reason: String },
    #[error("checkpoint {path}: {source}")]
    Checkpoint {
        path: PathBuf,
        #[source]
        source: NoteError,
    },
    #[error("key {path}: {source}")]
    Key {
        path: PathBuf,
        #[source]
        source: NoteError,
    },
    #[error("the signing key {key} is inside the log directory {dir}: keep it outside, where whoever can rewrite the log cannot also re-sign it")]
    KeyInsideLog { key: PathBuf, dir: PathBuf },
    #[error("{dir} was written with verifier key {existing}, not {configured}: the signing key changed")]
    KeyChanged { dir: PathBuf, existing: String, configured: String },
    #[error("no verifier key: pass one (name+id+key or a file holding it), or keep the log's verifier-key file")]
    NoVerifierKey,
    #[error("record {0} is not in the log")]
    NoSuchRecord(u64),
    #[error("no checkpoint covers record {index} yet (latest covers {size})")]
    NotCheckpointed { index: u64, size: u64 },
    #[error("a record exceeds the {0}-byte limit")]
    RecordTooLarge(usize),
    #[error("the audit log's writer has stopped{0}")]
    WriterStopped(String),
}

impl AuditError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AuditError {
        let path = path.into();
        move |source| AuditError::Io { path, source }
    }
}
