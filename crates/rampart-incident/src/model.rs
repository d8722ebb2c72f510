//! The incident as it is stored (one JSON file each) and reported: every report format is
//! rendered from this model alone, so a report made later from the file says the same as one
//! made while the shield ran.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One incident: from the first detection to the end of the calm that closed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `INC-YYYYMMDD-NNNN`, numbered per day (UTC) in the incident directory.
    pub id: String,
    pub status: Status,
    pub opened_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    /// What opened it: the detector and what it saw, or the operator's reason.
    pub trigger: String,
    /// Opened by an operator (`POST /api/incidents`), not a detector.
    pub manual: bool,
    /// The highest flood mitigation mode reached: `normal`, `elevated`, `under_attack`.
    pub peak_mode: String,
    /// Who reports it, from `[incident]`.
    pub reporter: Reporter,
    /// First sign, detections, mitigations, peak, end: in time order, at most
    /// [`crate::tracker::MAX_TIMELINE`] entries (the rest are counted in `timeline_dropped`).
    pub timeline: Vec<TimelineEntry>,
    pub timeline_dropped: u64,
    pub scale: Scale,
    /// What the attack did, by kind.
    pub vectors: Vec<Vector>,
    /// What the shield did, by stage and action, and how many requests each stopped.
    pub mitigations: Vec<MitigationCount>,
    pub impact: Impact,
    /// Requests per second over the incident, for the charts.
    pub series: Series,
}

/// Open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Closed,
}

/// `[incident]`'s who-and-where: what a national CSC asks first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reporter {
    pub organisation: String,
    /// How to reach the responder (an address, a phone number).
    pub contact: String,
    /// The person or team reporting.
    pub reporter: String,
    /// Where the affected services are (sector, site, country).
    pub location: String,
    /// The TLP marking of reports: `clear`, `green`, `amber` (default), `red`.
    pub tlp: Tlp,
    /// Who else was told (a CERT, the police, the hosting provider...).
    pub notified: Vec<String>,
    /// The audit log directory whose latest checkpoint reports embed, if any.
    pub audit_dir: Option<String>,
}

/// Traffic Light Protocol marking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tlp {
    Clear,
    Green,
    #[default]
    Amber,
    Red,
}

impl Tlp {
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::Red => "TLP:RED",
        }
    }
}

/// One moment of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub kind: EntryKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    FirstSign,
    Detection,
    Mitigation,
    Peak,
    End,
    Note,
}

impl EntryKind {
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::FirstSign => "first sign",
            EntryKind::Detection => "detection",
            EntryKind::Mitigation => "mitigation",
            EntryKind::Peak => "peak",
            EntryKind::End => "end",
            EntryKind::Note => "note",
        }
    }
}

/// How big it was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    /// Requests that reached the stages while the incident was open.
    pub total_requests: u64,
    /// Of those, refused (blocked, challenged, throttled).
    pub refused_requests: u64,
    /// Connections refused before any request (caps, bans, deny lists).
    pub refused_connections: u64,
    pub peak_rps: u64,
    pub peak_at: Option<Timestamp>,
    /// Estimated distinct client addresses (HyperLogLog, ±2%).
    pub distinct_sources: u64,
    /// The networks (/24, /64) that sent most, heaviest first, at most `[incident] top_k`.
    pub top_prefixes: Vec<PrefixCount>,
    pub bans: u64,
}

/// One heavy network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixCount {
    pub prefix: String,
    /// Requests and refused connections counted for it, over-estimated by at most `error`.
    pub count: u64,
    pub error: u64,
}

/// One kind of attack seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vector {
    pub kind: VectorKind,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Detections, mode changes or refused requests attributed to it.
    pub count: u64,
    /// Rule ids, detection patterns, request fingerprints: at most 20.
    pub details: Vec<String>,
}

/// Attack kinds, each with its CAPEC id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorKind {
    Flood,
    CredentialStuffing,
    PasswordSpraying,
    SqlInjection,
    CrossSiteScripting,
    CommandInjection,
    PathTraversal,
    RemoteFileInclusion,
    CodeInjection,
    Scanning,
    ProtocolAbuse,
    Injection,
    Enumeration,
    Exfiltration,
}

impl VectorKind {
    /// (CAPEC id, CAPEC name).
    pub fn capec(self) -> (&'static str, &'static str) {
        match self {
            VectorKind::Flood => ("CAPEC-125", "Flooding"),
            VectorKind::CredentialStuffing => ("CAPEC-600", "Credential Stuffing"),
            VectorKind::PasswordSpraying => ("CAPEC-565", "Password Spraying"),
            VectorKind::SqlInjection => ("CAPEC-66", "SQL Injection"),
            VectorKind::CrossSiteScripting => ("CAPEC-63", "Cross-Site Scripting (XSS)"),
            VectorKind::CommandInjection => ("CAPEC-88", "OS Command Injection"),
            VectorKind::PathTraversal => ("CAPEC-126", "Path Traversal"),
            VectorKind::RemoteFileInclusion => ("CAPEC-193", "PHP Remote File Inclusion"),
            VectorKind::CodeInjection => ("CAPEC-242", "Code Injection"),
            VectorKind::Scanning => ("CAPEC-541", "Application Fingerprinting"),
            VectorKind::ProtocolAbuse => ("CAPEC-272", "Protocol Manipulation"),
            VectorKind::Injection => ("CAPEC-152", "Inject Unexpected Items"),
            VectorKind::Enumeration => ("CAPEC-116", "Excavation"),
            VectorKind::Exfiltration => ("CAPEC-116", "Excavation"),
        }
    }

    /// A human name.
    pub fn label(self) -> &'static str {
        match self {
            VectorKind::Flood => "Layer-7 flood",
            VectorKind::CredentialStuffing => "Credential stuffing",
            VectorKind::PasswordSpraying => "Password spraying",
            VectorKind::SqlInjection => "SQL injection",
            VectorKind::CrossSiteScripting => "Cross-site scripting",
            VectorKind::CommandInjection => "OS command injection",
            VectorKind::PathTraversal => "Path traversal / local file inclusion",
            VectorKind::RemoteFileInclusion => "Remote file inclusion",
            VectorKind::CodeInjection => "Code injection",
            VectorKind::Scanning => "Scanning",
            VectorKind::ProtocolAbuse => "HTTP protocol abuse",
            VectorKind::Injection => "Other WAF-detected injection",
            VectorKind::Enumeration => "Record enumeration (scraping)",
            VectorKind::Exfiltration => "Data exfiltration attempt",
        }
    }

    /// The kind of a WAF rule, from the OWASP CRS's numbering (`942xxx` is SQL injection) or
    /// the project's baseline rules' (`rules/baseline.conf`, `97001xx` SQL injection, `97002xx`
    /// XSS, `97003xx` path traversal, `97004xx` protocol, `97005xx` scanners).
    pub fn of_waf_rule(id: &str) -> Option<VectorKind> {
        if let Some(rest) = id.strip_prefix("9700").filter(|r| r.len() == 3) {
            return Some(match rest.get(..1)? {
                "1" => VectorKind::SqlInjection,
                "2" => VectorKind::CrossSiteScripting,
                "3" => VectorKind::PathTraversal,
                "4" => VectorKind::ProtocolAbuse,
                "5" => VectorKind::Scanning,
                _ => VectorKind::Injection,
            });
        }
        let family = id.get(..3)?;
        Some(match family {
            "913" => VectorKind::Scanning,
            "920" | "921" => VectorKind::ProtocolAbuse,
            "930" => VectorKind::PathTraversal,
            "931" => VectorKind::RemoteFileInclusion,
            "932" => VectorKind::CommandInjection,
            "933" | "934" | "944" => VectorKind::CodeInjection,
            "941" => VectorKind::CrossSiteScripting,
            "942" => VectorKind::SqlInjection,
            // Anomaly-score evaluation and correlation rules say "blocked", not what.
            "949" | "959" | "980" | "901" | "905" | "911" => return None,
            _ => VectorKind::Injection,
        })
    }

    /// The kind of a guard's detection pattern (`credential_stuffing_distributed`, `enumeration`).
    pub fn of_pattern(pattern: &str) -> VectorKind {
        if pattern.starts_with("credential_stuffing") {
            VectorKind::CredentialStuffing
        } else if pattern.starts_with("password_spraying") {
            VectorKind::PasswordSpraying
        } else if pattern.starts_with("enumeration") {
            VectorKind::Enumeration
        } else {
            VectorKind::Exfiltration
        }
    }
}

/// What one stage did, how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MitigationCount {
    /// The stage (`flood`, `rate_limit`, `waf`) or, for connections, the refusal's reason.
    pub stage: String,
    /// `block`, `challenge`, `throttle`, `drop` (connection refused), `ban`.
    pub action: String,
    pub count: u64,
    /// Counted but not enforced (detect mode).
    pub detect_only: bool,
}

/// Legitimate users' service before and during the incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// The calm minute or two before it opened.
    pub before: Groups,
    pub during: Groups,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Groups {
    /// `[[priority]]` classes (staff).
    pub priority: GroupStats,
    /// Clients holding a clearance (passed a challenge).
    pub clearance: GroupStats,
    pub public: GroupStats,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    pub requests: u64,
    /// Reached the app and got no 5xx.
    pub served: u64,
    pub success_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Per-step samples; when they reach [`crate::tracker::MAX_POINTS`], pairs merge and the
/// step doubles, so a day-long attack still has a few hundred points.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub start: Timestamp,
    pub step_secs: u64,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// Requests in the step.
    pub requests: u64,
    /// Of which refused.
    pub refused: u64,
    /// Highest mode in the step: 0 normal, 1 elevated, 2 under attack.
    pub mode: u8,
}

/// A mode's level for [`Point::mode`].
pub fn mode_level(mode: &str) -> u8 {
    match mode {
        "elevated" => 1,
        "under_attack" => 2,
        _ => 0,
    }
}

/// A level's name.
pub fn mode_name(level: u8) -> &'static str {
    match level {
        1 => "elevated",
        2 => "under_attack",
        _ => "normal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waf_rules_are_classified_by_family() {
        assert_eq!(VectorKind::of_waf_rule("942100"), Some(VectorKind::SqlInjection));
        assert_eq!(VectorKind::of_waf_rule("941110"), Some(VectorKind::CrossSiteScripting));
        assert_eq!(VectorKind::of_waf_rule("949110"), None, "the anomaly-score verdict is no vector");
        assert_eq!(VectorKind::of_waf_rule("9700101"), Some(VectorKind::SqlInjection));
        assert_eq!(VectorKind::of_waf_rule("9700200"), Some(VectorKind::CrossSiteScripting));
        assert_eq!(VectorKind::of_waf_rule("12"), None);
        assert_eq!(VectorKind::of_waf_rule("990000"), Some(VectorKind::Injection));
    }
}
