//! Helpers for the unit tests: parse a snippet, get the config or the errors as strings.

use std::path::Path;

use crate::{parse, Config, ConfigErrors};

/// A listener and an upstream, to which a test appends the section it is about.
pub(crate) const BASE: &str = "[[listener]]\naddress = \"127.0.0.1:8080\"\n\n[[upstream]]\nname = \"app\"\nservers = [\"127.0.0.1:9100\"]\n\n";

/// `BASE` + `extra`, expected valid.
pub(crate) fn ok(extra: &str) -> Config {
    match parse(&format!("{BASE}{extra}"), Path::new("/nonexistent/rampart.toml")) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// `BASE` + `extra`, expected invalid; each error as `line:column: message`.
pub(crate) fn errs(extra: &str) -> Vec<String> {
    raw_errs(&format!("{BASE}{extra}"))
}

/// `text` alone, expected invalid.
pub(crate) fn raw_errs(text: &str) -> Vec<String> {
    match parse(text, Path::new("/nonexistent/rampart.toml")) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => strip(&e),
    }
}

fn strip(e: &ConfigErrors) -> Vec<String> {
    e.iter().map(|e| format!("{}:{}: {}", e.line, e.column, e.message)).collect()
}
