//! `[incident]`: the incident tracker and who reports.

use serde::Deserialize;

use super::{Int, Str, StrList};

/// `[incident]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIncident {
    pub dir: Str,
    pub calm_after: Option<Str>,
    pub waf_threshold: Option<Str>,
    pub top_k: Option<Int>,
    pub organisation: Option<Str>,
    pub contact: Option<Str>,
    pub reporter: Option<Str>,
    pub location: Option<Str>,
    pub tlp: Option<Str>,
    pub notified: Option<StrList>,
}
