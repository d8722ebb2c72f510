//! `rampart.toml`: read it, check all of it, hand back a typed model.
//!
//! # Layout
//!
//! Like ripgrep's `lowargs` → `hiargs`, configuration goes through two models:
//!
//! * [`raw`](crate::raw) (private): what the user wrote — serde structs, one per section, all
//!   `deny_unknown_fields`, every value kept as written with its position.
//! * `read`: text → raw model. TOML syntax first; then each section (and each element of an
//!   array of tables) goes through serde on its own, and a key serde rejects is reported and
//!   removed before trying again, so one mistake never hides the next.
//! * `validate/*`: raw → [`Config`], one file per group of sections. Units (`10s`, `64KiB`,
//!   `20/s`) are parsed with [`rampart_core::units`], networks become [`ipnet::IpNet`],
//!   paths are resolved against the configuration file's directory and checked to be
//!   readable, cross-references are checked (a route's upstream, an exfiltration's route).
//!   Every problem is recorded; none stops the run.
//! * [`model`]: the typed result, with every default documented on its field.
//! * [`error`]: [`ConfigErrors`], every problem as `file:line:column: message`, sorted.
//!
//! # Entry points
//!
//! [`load`] reads a file; [`parse`] takes text and the path it came from (for messages and
//! for resolving relative paths).
//!
//! ```
//! let text = r#"
//! [[listener]]
//! address = "127.0.0.1:8080"
//!
//! [[upstream]]
//! name = "app"
//! servers = ["127.0.0.1:9100"]
//! "#;
//! let config = rampart_config::parse(text, std::path::Path::new("rampart.toml")).unwrap();
//! assert_eq!(config.routes[0].upstream, "app");
//! ```

mod context;
pub mod error;
pub mod model;
mod raw;
mod read;
mod suggest;
#[cfg(test)]
mod testing;
mod validate;

use std::path::Path;

pub use error::{ConfigError, ConfigErrors, ErrorKind};
pub use model::*;
pub use validate::{DEFAULT_PER_CLIENT, DEFAULT_PER_USERNAME};

/// Read and check the configuration file at `path`.
///
/// Relative paths inside it resolve against its directory. On failure, every problem found is
/// returned (an unreadable file is one error without position).
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path),
        Err(e) => Err(ConfigErrors::new(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the configuration file: {}", validate_io(&e)),
            kind: ErrorKind::Io,
        }])),
    }
}

fn validate_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Check `text`, the content of the configuration file `origin`.
///
/// `origin` appears in error messages and its directory is where relative paths resolve; it
/// is not read.
pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigErrors> {
    let mut ctx = context::Ctx::new(text, origin);
    let config = read::read_document(&mut ctx, text).and_then(|raw| validate::validate(&mut ctx, raw));
    match config {
        Some(mut config) if !ctx.has_errors() => {
            config.source = origin.to_path_buf();
            Ok(config)
        }
        _ => Err(ConfigErrors::new(ctx.into_errors())),
    }
}
