//! `rampart-waf`: a SecLang engine that loads the OWASP Core Rule Set unchanged.
//!
//! # Layout
//!
//! * [`transform`]: one file per transformation (`t:lowercase`, `t:urlDecodeUni`, …) and the
//!   registry that finds them by name.
//! * [`operator`]: one file per operator (`@rx`, `@pm`, `@detectSQLi`, …), the [`operator::Operator`]
//!   trait they implement and the registry that builds them from a rule's text.
//!
//! (Parser, variables, actions, body processors and the transaction are added beside these.)

pub mod operator;
pub mod transform;
