//! Checkpoints: signed tree heads in the C2SP tlog-checkpoint format
//! (<https://c2sp.org/tlog-checkpoint>): `origin`, tree size and base64 root hash, one per line,
//! signed as a note.
//!
//! The log keeps every checkpoint it issues as `checkpoints/NNNNNNNNNNNN` (the tree size, twelve
//! digits), written to a temporary name, fsynced and renamed, so that a verifier can check each
//! of them later and an incident report can carry the latest.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::merkle::Hash;
use crate::note::{NoteError, NoteSigner, NoteVerifier};

/// The directory of checkpoints inside the log directory.
pub const CHECKPOINT_DIR: &str = "checkpoints";

/// A tree head: the log's origin, its size and its root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint body (the note text).
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }

    /// Parse a checkpoint body; extension lines after the root are allowed and ignored.
    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(NoteError::MalformedNote("a checkpoint has an origin, a size and a root hash"));
        };
        if origin.is_empty() {
            return Err(NoteError::MalformedNote("empty origin"));
        }
        let canonical_size = !size.is_empty() && (size == "0" || !size.starts_with('0')) && size.bytes().all(|b| b.is_ascii_digit());
        let size = size.parse::<u64>().ok().filter(|_| canonical_size).ok_or(NoteError::MalformedNote("bad tree size"))?;
        let root = B64.decode(root).ok().and_then(|r| <Hash>::try_from(r).ok()).ok_or(NoteError::MalformedNote("bad root hash"))?;
        Ok(Checkpoint { origin: origin.to_string(), size, root })
    }

    /// Check a signed checkpoint: the signature by `verifier`, and an origin equal to the key
    /// name.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
        let cp = Checkpoint::parse_body(verifier.open(note)?)?;
        if cp.origin != verifier.name() {
            return Err(NoteError::MalformedNote("the origin is not the key's name"));
        }
        Ok(cp)
    }

    /// The signed note of this checkpoint.
    pub fn sign(&self, signer: &NoteSigner) -> String {
        signer.sign(&self.body())
    }
}

/// The file name of the checkpoint of a tree of `size` records.
pub fn file_name(size: u64) -> String {
    format!("{size:012}")
}

/// The checkpoint files of a log directory, by tree size, smallest first. Names that are not
/// twelve digits are errors (a stray file is reported, not ignored).
pub fn list(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let cdir = dir.join(CHECKPOINT_DIR);
    let mut out = Vec::new();
    let entries = match fs::read_dir(&cdir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".tmp-") {
            continue; // an interrupted write; never renamed, never counted
        }
        match name.parse::<u64>() {
            Ok(size) if name.len() == 12 => out.push((size, entry.path())),
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("unexpected file {} in {}", name, cdir.display()),
                ))
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Write a signed checkpoint durably: temporary file, fsync, rename, fsync the directory.
pub fn store(dir: &Path, size: u64, note: &str) -> std::io::Result<PathBuf> {
    let cdir = dir.join(CHECKPOINT_DIR);
    let tmp = cdir.join(format!(".tmp-{}", file_name(size)));
    let path = cdir.join(file_name(size));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(note.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, &path)?;
    fs::File::open(&cdir)?.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips_and_refuses_non_canonical_sizes() {
        let cp = Checkpoint { origin: "example.com/log".into(), size: 8, root: [7; 32] };
        assert_eq!(cp.body(), "example.com/log\n8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n");
        assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
        for bad in ["o\n08\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n", "o\n-1\nAA==\n", "o\n1\nAA==\n", "\n1\nAA==\n"] {
            assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?}");
        }
        let signer = NoteSigner::generate("example.com/log").unwrap();
        let note = cp.sign(&signer);
        assert_eq!(Checkpoint::open(&note, &signer.verifier()).unwrap(), cp);
        let other = NoteSigner::generate("other").unwrap();
        assert!(Checkpoint::open(&Checkpoint { origin: "other".into(), ..cp }.sign(&other), &signer.verifier()).is_err());
    }
}
