//! What the tracker is told by `[incident]`.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::Reporter;

/// The tracker's settings (built by the binary from `[incident]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where each incident is written as `ID.json`. `None`: kept in memory only.
    pub dir: Option<PathBuf>,
    /// An incident closes after this long with the flood mode at normal and no new detection,
    /// ban or WAF burst. Default 60 s.
    pub calm_after: Duration,
    /// WAF blocks per second, averaged over 10 s, that open an incident. Default 5.
    pub waf_threshold: f64,
    /// How many heavy networks a report lists. Default 10.
    pub top_k: usize,
    /// Who reports, for the reports.
    pub reporter: Reporter,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            dir: None,
            calm_after: Duration::from_secs(60),
            waf_threshold: 5.0,
            top_k: 10,
            reporter: Reporter::default(),
        }
    }
}
