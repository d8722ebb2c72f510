//! Finding and loading the OWASP CRS from the shared data directory.

use std::path::{Path, PathBuf};

use crate::compile::Builder;
use crate::error::LoadError;

/// The shared data directory: `$RAMPART_SHARED`, else `<manifest_dir>/../../../shared`
/// (in CI the repository is cloned beside a copy of `shared/`).
pub fn shared_dir(manifest_dir: &Path) -> PathBuf {
    match std::env::var_os("RAMPART_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => manifest_dir.join("../../../shared"),
    }
}

/// `crs-setup.conf.example` and `rules/*.conf` of a CRS checkout, in load order.
pub fn crs_files(crs_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = vec![crs_dir.join("crs-setup.conf.example")];
    let mut rules: Vec<PathBuf> = std::fs::read_dir(crs_dir.join("rules"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    rules.sort();
    files.extend(rules);
    Ok(files)
}

/// Load `before` (inline SecLang, e.g. engine settings), then the CRS, then `after`.
pub fn load_crs(builder: &mut Builder, crs_dir: &Path, before: &str, after: &str) -> Result<(), LoadError> {
    builder.load_str(before, Some(crs_dir))?;
    let files = crs_files(crs_dir).map_err(|source| LoadError::Io {
        location: crate::error::Location::new(Default::default(), 0),
        path: crs_dir.join("rules"),
        source,
    })?;
    for f in files {
        builder.load_file(&f)?;
    }
    builder.load_str(after, Some(crs_dir))?;
    Ok(())
}
