//! Proofs as files: `rampart audit prove` writes an inclusion proof, `rampart audit
//! prove-consistency` a consistency proof; `rampart audit check-proof` (or any RFC 6962
//! verifier) checks either offline.
//!
//! Hashes are base64, as in RFC 6962's JSON API and the checkpoint itself. The record's
//! canonical text travels with the proof so that the leaf hash is recomputed, not trusted.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::error::AuditError;
use crate::merkle::{leaf_hash, Hash};
use crate::note::{NoteError, NoteVerifier};
use crate::proof::{verify_consistency, verify_inclusion, ProofError, TreeView};
use crate::segment;
use crate::verify;

/// An inclusion proof of one record, relative to a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The record's index (its ID).
    pub leaf_index: u64,
    /// The size of the tree the proof is for (the checkpoint's).
    pub tree_size: u64,
    /// The record's canonical bytes, as text.
    pub record: String,
    /// `SHA-256(0x00 || record)`, base64.
    pub leaf_hash: String,
    /// The tree head, base64.
    pub root: String,
    /// The audit path, leaf to root, base64.
    pub audit_path: Vec<String>,
    /// The signed checkpoint the proof is relative to.
    pub checkpoint: String,
    /// The key that signed it (check it is the one you trust).
    pub verifier_key: String,
}

/// Why a proof file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0} is not 32 bytes of base64")]
    BadHash(&'static str),
    #[error("leaf_hash is not the hash of the record")]
    LeafMismatch,
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    #[error("the checkpoint is for tree size {checkpoint}, the proof for {proof}")]
    SizeMismatch { checkpoint: u64, proof: u64 },
    #[error("the checkpoint's root is not the proof's root")]
    RootMismatch,
    #[error("inclusion: {0}")]
    Proof(#[from] ProofError),
}

fn b64(h: &Hash) -> String {
    B64.encode(h)
}

fn unb64(s: &str, what: &'static str) -> Result<Hash, CheckError> {
    B64.decode(s).ok().and_then(|v| Hash::try_from(v).ok()).ok_or(CheckError::BadHash(what))
}

/// Build the proof of record `index` from the log in `dir`, relative to its latest checkpoint.
/// The whole log is verified on the way (a proof from a log that does not verify is worthless).
pub fn prove(dir: &Path, verifier: &NoteVerifier, index: u64) -> Result<InclusionProof, AuditError> {
    let verified = verify::verify(dir, verifier, &[], true)?;
    let leaves = verified.leaves.unwrap_or_default();
    if index >= verified.records || index < verified.start {
        return Err(AuditError::NoSuchRecord(index));
    }
    let latest = verified.latest.ok_or(AuditError::NotCheckpointed { index, size: 0 })?;
    let size = latest.checkpoint.size;
    if index >= size {
        return Err(AuditError::NotCheckpointed { index, size });
    }
    let removed = verified.base.as_ref().map(|b| b.ranges()).unwrap_or_default();
    let view = TreeView { removed: &removed, start: verified.start, leaves: &leaves };
    let path = view.inclusion_path(index, size).ok_or(AuditError::NoSuchRecord(index))?;
    let note = std::fs::read_to_string(&latest.path).map_err(AuditError::io(&latest.path))?;
    let mut record = None;
    segment::scan(dir, &mut |frame| {
        if frame.index == index {
            record = Some(String::from_utf8_lossy(frame.payload).into_owned());
        }
        Ok(())
    })?;
    Ok(InclusionProof {
        leaf_index: index,
        tree_size: size,
        record: record.ok_or(AuditError::NoSuchRecord(index))?,
        leaf_hash: b64(&leaves[(index - verified.start) as usize]),
        root: b64(&latest.checkpoint.root),
        audit_path: path.iter().map(b64).collect(),
        checkpoint: note,
        verifier_key: verifier.to_text(),
    })
}

impl InclusionProof {
    /// Check the proof offline: the record hashes to the leaf, the path leads from the leaf to
    /// the root, and the checkpoint signed by `verifier` commits to that root and size.
    pub fn check(&self, verifier: &NoteVerifier) -> Result<Checkpoint, CheckError> {
        let leaf = unb64(&self.leaf_hash, "leaf_hash")?;
        if leaf_hash(self.record.as_bytes()) != leaf {
            return Err(CheckError::LeafMismatch);
        }
        let root = unb64(&self.root, "root")?;
        let path = self.audit_path.iter().map(|h| unb64(h, "an audit_path hash")).collect::<Result<Vec<_>, _>>()?;
        let cp = Checkpoint::open(&self.checkpoint, verifier)?;
        if cp.size != self.tree_size {
            return Err(CheckError::SizeMismatch { checkpoint: cp.size, proof: self.tree_size });
        }
        if cp.root != root {
            return Err(CheckError::RootMismatch);
        }
        verify_inclusion(self.leaf_index, self.tree_size, &leaf, &path, &root)?;
        Ok(cp)
    }
}

/// A consistency proof: the log's latest checkpoint extends an older one someone holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older checkpoint (signed note), as held.
    pub old_checkpoint: String,
    /// The newer checkpoint (signed note), the log's latest.
    pub new_checkpoint: String,
    /// `PROOF(old size, D[new size])`, base64.
    pub consistency_path: Vec<String>,
    /// The key that signed both.
    pub verifier_key: String,
}

/// Build the proof that the log's latest checkpoint extends the checkpoint in `old`. The whole
/// log is verified on the way.
pub fn prove_consistency(dir: &Path, verifier: &NoteVerifier, old: &Path) -> Result<ConsistencyProof, AuditError> {
    let old_note = std::fs::read_to_string(old).map_err(AuditError::io(old))?;
    let old_cp = verify::read_checkpoint(old, verifier)?;
    let verified = verify::verify(dir, verifier, &[old.to_path_buf()], true)?;
    let latest = verified.latest.ok_or(AuditError::NotCheckpointed { index: old_cp.size, size: 0 })?;
    let leaves = verified.leaves.unwrap_or_default();
    let removed = verified.base.as_ref().map(|b| b.ranges()).unwrap_or_default();
    let view = TreeView { removed: &removed, start: verified.start, leaves: &leaves };
    let path = view.consistency_path(old_cp.size, latest.checkpoint.size).ok_or(AuditError::NotCheckpointed {
        index: old_cp.size,
        size: latest.checkpoint.size,
    })?;
    Ok(ConsistencyProof {
        old_checkpoint: old_note,
        new_checkpoint: std::fs::read_to_string(&latest.path).map_err(AuditError::io(&latest.path))?,
        consistency_path: path.iter().map(b64).collect(),
        verifier_key: verifier.to_text(),
    })
}

impl ConsistencyProof {
    /// Check offline that both checkpoints are signed by `verifier` and the newer extends the
    /// older. Returns both.
    pub fn check(&self, verifier: &NoteVerifier) -> Result<(Checkpoint, Checkpoint), CheckError> {
        let old = Checkpoint::open(&self.old_checkpoint, verifier)?;
        let new = Checkpoint::open(&self.new_checkpoint, verifier)?;
        let path = self.consistency_path.iter().map(|h| unb64(h, "a consistency_path hash")).collect::<Result<Vec<_>, _>>()?;
        verify_consistency(old.size, new.size, &path, &old.root, &new.root)?;
        Ok((old, new))
    }
}
