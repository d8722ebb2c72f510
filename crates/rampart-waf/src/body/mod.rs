//! Request body processors: JSON, XML and multipart (URL-encoded bodies reuse the query-string
//! parser). Each works on a bounded buffer, stops at its limits, and reports malformed input
//! as a [`BodyError`] (which becomes `REQBODY_ERROR`), never a panic.

pub mod json;
pub mod multipart;
pub mod xml;

/// Why a body could not be parsed; the text becomes `REQBODY_ERROR_MSG`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(pub String);
