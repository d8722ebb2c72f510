//! The audit log's latest signed checkpoint, which reports embed: whoever receives a report
//! holds a commitment to the whole audit log up to it, which the organisation cannot later
//! rewrite without `rampart audit verify --checkpoint` failing.
//!
//! Read from the files alone (`DIR/checkpoints/NNNNNNNNNNNN`, named by tree size, as
//! `rampart_audit::checkpoint` writes them), so reports need no audit code.

use std::path::{Path, PathBuf};

/// Where the audit log keeps its checkpoints (`rampart_audit::checkpoint::CHECKPOINT_DIR`).
const CHECKPOINT_DIR: &str = "checkpoints";
/// A checkpoint is a few hundred bytes; anything much larger is not one.
const MAX_CHECKPOINT_BYTES: u64 = 16 * 1024;

/// One checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub path: PathBuf,
    /// The signed note, as written.
    pub text: String,
    /// The tree size (the file's name).
    pub size: u64,
}

/// The latest checkpoint in audit directory `dir`: `Ok(None)` when it has none yet.
pub fn latest(dir: &Path) -> std::io::Result<Option<Checkpoint>> {
    let cdir = dir.join(CHECKPOINT_DIR);
    let entries = match std::fs::read_dir(&cdir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let best = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let size: u64 = name.parse().ok().filter(|_| name.bytes().all(|b| b.is_ascii_digit()))?;
            Some((size, e.path()))
        })
        .max_by_key(|(size, _)| *size);
    let Some((size, path)) = best else { return Ok(None) };
    if std::fs::metadata(&path)?.len() > MAX_CHECKPOINT_BYTES {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} is too large", path.display())));
    }
    let text = std::fs::read_to_string(&path)?;
    Ok(Some(Checkpoint { path, text, size }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_tree_is_the_latest() {
        let dir = std::env::temp_dir().join(format!("rampart-incident-cp-{}", std::process::id()));
        let cdir = dir.join("checkpoints");
        std::fs::create_dir_all(&cdir).unwrap();
        std::fs::write(cdir.join("000000000009"), "nine").unwrap();
        std::fs::write(cdir.join("000000000100"), "hundred").unwrap();
        std::fs::write(cdir.join(".tmp"), "x").unwrap();
        let cp = latest(&dir).unwrap().unwrap();
        assert_eq!((cp.size, cp.text.as_str()), (100, "hundred"));
        assert_eq!(latest(&dir.join("none")).unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
