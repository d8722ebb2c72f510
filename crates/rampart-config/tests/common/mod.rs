//! Shared by the integration tests: scratch directories with the files a config names.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fresh, empty directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rampart-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Create `rel` (and its parent directories) under `dir`.
pub fn touch(dir: &Path, rel: &str) {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent");
    }
    std::fs::write(&path, "x\n").expect("write file");
}

/// The reference configuration shipped in `examples/`.
pub fn reference_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/reference.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every file `examples/reference.toml` names, relative to its directory.
pub const REFERENCE_FILES: &[&str] = &[
    "tls/site.pem",
    "tls/site.key",
    "tls/members.pem",
    "tls/members.key",
    "keys/session.key",
    "keys/audit.key",
    "keys/admin.token",
    "lists/drop.txt",
    "lists/allow.txt",
    "crs/crs-setup.conf",
    "crs/rules/REQUEST-901-INITIALIZATION.conf",
    "crs/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf",
];

/// A directory holding `rampart.toml` (the reference) and every file it names.
pub fn reference_dir(name: &str) -> PathBuf {
    let dir = scratch(name);
    for f in REFERENCE_FILES {
        touch(&dir, f);
    }
    std::fs::write(dir.join("rampart.toml"), reference_text()).expect("write config");
    dir
}
