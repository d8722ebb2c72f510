//! What the testbed is asked to be: [`TestbedOptions`].

use std::path::PathBuf;
use std::time::Duration;

use crate::TestbedError;

/// The most contacts [`TestbedOptions::contacts`] may ask for. Seeding is
/// linear; a million rows is already far past what any drill needs.
pub const MAX_CONTACTS: usize = 1_000_000;

/// How the testbed is built. Every field has a default (see [`Default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestbedOptions {
    /// How many synthetic contacts to generate at start. Default 5,000.
    pub contacts: usize,
    /// Seed for the contact generator; the same seed gives the same data.
    /// Default `0x5EED`.
    pub seed: u64,
    /// **For tests and drills only.** When true, search concatenates `q` into
    /// its SQL (real SQL injection against the database) and the search page
    /// reflects `q` without escaping (reflected XSS). [`crate::serve`] refuses
    /// it on any listener that is not loopback. Default false.
    pub vulnerable: bool,
    /// When true (default), every page except `/`, `/login`, `/logout`,
    /// `/healthz` and the stylesheet needs a valid `session` cookie. Set false
    /// to test floods and scrapers against open pages.
    pub require_login: bool,
    /// At most this many requests are worked on at once; the rest wait for a
    /// permit. `None` (default) means no limit. `/healthz` is not limited.
    pub max_concurrent: Option<usize>,
    /// Each request holds its permit this long before it is answered,
    /// simulating work: 8 permits × 10 ms ≈ 800 requests/s. Default `None`.
    pub work_delay: Option<Duration>,
    /// SQLite file to (re)create; `None` (default) keeps the database in
    /// memory. An existing `contacts` table in the file is replaced.
    pub database: Option<PathBuf>,
}

impl Default for TestbedOptions {
    fn default() -> Self {
        TestbedOptions {
            contacts: 5_000,
            seed: 0x5EED,
            vulnerable: false,
            require_login: true,
            max_concurrent: None,
            work_delay: None,
            database: None,
        }
    }
}

impl TestbedOptions {
    /// Checks the ranges; the error names every option that is wrong.
    pub(crate) fn validate(&self) -> Result<(), TestbedError> {
        let mut problems = Vec::new();
        if self.contacts > MAX_CONTACTS {
            problems.push(format!("contacts = {} (at most {MAX_CONTACTS})", self.contacts));
        }
        if self.max_concurrent == Some(0) {
            problems.push("max_concurrent = 0 (would answer nothing; use None for no limit)".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TestbedError::InvalidOption(problems.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let o = TestbedOptions::default();
        assert!(!o.vulnerable);
        assert!(o.require_login);
        assert_eq!(o.contacts, 5_000);
        assert!(o.validate().is_ok());
    }

    #[test]
    fn validate_reports_every_problem() {
        let o = TestbedOptions { contacts: MAX_CONTACTS + 1, max_concurrent: Some(0), ..Default::default() };
        let msg = o.validate().unwrap_err().to_string();
        assert!(msg.contains("contacts") && msg.contains("max_concurrent"), "{msg}");
    }
}
