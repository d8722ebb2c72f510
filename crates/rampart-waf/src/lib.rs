//! `rampart-waf`: a SecLang engine that loads the OWASP Core Rule Set unchanged.
//!
//! # Layout
//!
//! * [`parser`]: SecLang text → directives (line continuations, quoting, `Include`), and the
//!   small parsers for actions lists, variables lists, operators and macros.
//! * [`compile`]: directives → [`Engine`] ([`compile::Builder`]): `SecDefaultAction`, chains,
//!   `SecRuleRemoveById`/`SecRuleUpdateTargetById`, settings ([`config`]).
//! * [`rule`], [`actions`], [`vars`]: the compiled model (rules, disruptive and data actions,
//!   variables with selectors and exclusions).
//! * [`transform`]: one file per transformation (`t:lowercase`, `t:urlDecodeUni`, …) and the
//!   registry that finds them by name.
//! * [`operator`]: one file per operator (`@rx`, `@pm`, `@detectSQLi`, …), the [`operator::Operator`]
//!   trait they implement and the registry that builds them from a rule's text.
//! * [`tx`]: [`Transaction`], the per-request API a proxy drives phase by phase; [`body`]: the
//!   request body processors (URL-encoded, multipart, JSON, XML).
//! * [`prefilter`]: every rule's required literals in one automaton, searched once per value;
//!   operators also name the bytes a match needs ([`operator::Operator::required_bytes`]), which
//!   the transaction checks against a bound carried through each chain
//!   ([`transform::bytes_after`]) before transforming anything.
//! * [`store`]: [`store::PersistentStore`] for `IP`/`GLOBAL`/`SESSION`/`USER` collections.
//! * [`ftw`]: an in-process runner for the CRS regression suite (go-ftw YAML).
//!
//! ```no_run
//! use std::sync::Arc;
//! let engine = Arc::new(rampart_waf::Engine::from_str(
//!     "SecRuleEngine On\nSecRule ARGS:q \"@rx evil\" \"id:1,phase:1,deny,status:403\"", None).unwrap());
//! let mut tx = engine.transaction();
//! tx.process_connection("10.0.0.1", 50000, "10.0.0.2", 80);
//! tx.process_uri("/search?q=evil", "GET", "HTTP/1.1");
//! tx.add_request_header("Host", "example.org");
//! if let Some(intervention) = tx.process_request_headers() {
//!     assert_eq!(intervention.status, 403);
//! }
//! ```

pub mod actions;
pub mod body;
pub mod compile;
pub mod config;
pub mod engine;
pub mod error;
pub mod ftw;
pub mod operator;
pub mod parser;
pub mod prefilter;
pub mod rule;
pub mod store;
pub mod transform;
pub mod tx;
pub mod vars;

#[cfg(test)]
mod test_rng;

pub use compile::Builder;
pub use config::{Config, EngineMode};
pub use engine::Engine;
pub use error::{LoadError, Location};
pub use tx::{Intervention, MatchedRule, Transaction};
