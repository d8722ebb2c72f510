//! `[incident]`: the incident tracker and who reports.

use std::path::PathBuf;
use std::time::Duration;

use rampart_core::Rate;

/// `[incident]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// `dir`: where each incident is written as `INC-YYYYMMDD-NNNN.json` (created if missing;
    /// must not be a file). Required.
    pub dir: PathBuf,
    /// `calm_after`: an incident closes after this long with the flood mode at normal and no
    /// new detection, ban or WAF burst. Default `60s`.
    pub calm_after: Duration,
    /// `waf_threshold`: WAF blocks, averaged over 10 s, that open an incident. Default `5/s`.
    pub waf_threshold: Rate,
    /// `top_k`: how many heavy source networks reports list. Default 10; 1 to 100.
    pub top_k: u32,
    /// `organisation`, `contact`, `reporter`, `location`: who and where, for the reports.
    /// Default empty (reports say "not configured").
    pub organisation: String,
    pub contact: String,
    pub reporter: String,
    pub location: String,
    /// `tlp`: the reports' Traffic Light Protocol marking. Default `amber`.
    pub tlp: Tlp,
    /// `notified`: who else is told of incidents (a CERT, the hosting provider). Default none.
    pub notified: Vec<String>,
}

/// `[incident] tlp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tlp {
    /// `"clear"` (or `"white"`).
    Clear,
    /// `"green"`.
    Green,
    /// `"amber"` (the default).
    #[default]
    Amber,
    /// `"red"`.
    Red,
}
