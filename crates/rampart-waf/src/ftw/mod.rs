//! An in-process runner for the CRS regression suite: the go-ftw YAML model ([`model`]), raw
//! request building and decoding ([`request`]), the judge that compares a transaction's logged
//! rule ids with a test's expectations ([`judge`]), project overrides ([`overrides`]), and the
//! runner that drives an [`crate::Engine`] with each test ([`runner`]), and the suite loop
//! that works with any executor ([`suite`]). The proxy-side
//! `rampart waf ftw` command reuses the model, the decoding and the judge.

pub mod base64;
pub mod crs;
pub mod judge;
pub mod model;
pub mod overrides;
pub mod request;
pub mod runner;
pub mod suite;
