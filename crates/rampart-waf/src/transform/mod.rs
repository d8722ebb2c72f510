//! Transformations (`t:name`): pure functions from bytes to bytes, applied in a chain before an
//! operator runs. One file per transformation; [`lookup`] finds one by its SecLang name.

use std::borrow::Cow;

/// A transformation: returns the input borrowed when it has nothing to change, so that a chain
/// of transformations over clean input allocates nothing.
pub type TransformFn = fn(&[u8]) -> Cow<'_, [u8]>;

/// Find a transformation by its SecLang name (case-insensitive, as ModSecurity reads it).
/// `none` is not a transformation but a directive to the rule; callers handle it.
pub fn lookup(name: &str) -> Option<TransformFn> {
    let _ = name;
    None
}
