//! The `base` file: where a log starts after retention removed its oldest segments.
//!
//! It holds the tree size at the first kept record and the perfect-subtree roots of the tree of
//! that size (the writer's frontier then): enough to rebuild every later tree head and every
//! proof of a kept record. It is not signed and need not be: the checkpoints after it bind it,
//! since a different frontier gives different roots for every later size. What it cannot show
//! is what the removed records said; `verify` reports how many there were.
//!
//! ```text
//! rampart-audit base
//! 1048576
//! <base64 subtree root>   (one line per set bit of the size, largest subtree first)
//! ```

use std::fs;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::error::AuditError;
use crate::log::write_synced;
use crate::merkle::{Frontier, Hash};

/// The file name inside the log directory.
pub const BASE_FILE: &str = "base";
const HEADER: &str = "rampart-audit base";

/// The frontier at the first kept record, or `None` when nothing was ever removed.
pub fn load(dir: &Path) -> Result<Option<Frontier>, AuditError> {
    let path = dir.join(BASE_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AuditError::Io { path, source: e }),
    };
    let bad = |reason: &str| AuditError::Corrupt { segment: path.clone(), offset: 0, index: 0, reason: format!("base file: {reason}") };
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(bad("missing header"));
    }
    let size = lines.next().and_then(|l| l.parse::<u64>().ok()).ok_or_else(|| bad("bad tree size"))?;
    let subtrees = lines
        .map(|l| B64.decode(l).ok().and_then(|v| Hash::try_from(v).ok()).ok_or_else(|| bad("bad subtree hash")))
        .collect::<Result<Vec<_>, _>>()?;
    Frontier::from_parts(size, subtrees).map(Some).ok_or_else(|| bad("the number of hashes does not fit the size"))
}

/// Write the base durably (before any segment it replaces is removed).
pub fn store(dir: &Path, frontier: &Frontier) -> Result<(), AuditError> {
    let mut text = format!("{HEADER}\n{}\n", frontier.size());
    for h in frontier.subtrees() {
        text.push_str(&B64.encode(h));
        text.push('\n');
    }
    write_synced(&dir.join(BASE_FILE), text.as_bytes())
}
