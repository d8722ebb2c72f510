//! What the user wrote: one serde struct per section of `rampart.toml`, every struct
//! `deny_unknown_fields`, every value kept as written (strings for units and enums, `i64` for
//! counts) with its [`Spanned`] position, so that validation can say exactly where a value is
//! wrong and what was expected. Nested tables (`tls`, `health`, `budget`…) are not wrapped in
//! `Spanned`: written with dotted keys (`tls.cert = "…"`) they have no position of their own,
//! so errors about them point at one of their values instead. Nothing here is checked beyond TOML types: that is
//! [`crate::validate`]'s job.
//!
//! The document is not deserialized in one go: [`crate::read`] hands each section (and each
//! element of an array of tables) to serde separately, so that one mistake does not hide the
//! others.

mod incident;
mod network;
mod ops;
mod stages;

pub(crate) use incident::*;
pub(crate) use network::*;
pub(crate) use ops::*;
pub(crate) use stages::*;

pub(crate) use toml::Spanned;

/// A string with its position.
pub(crate) type Str = Spanned<String>;
/// An integer with its position (range-checked during validation).
pub(crate) type Int = Spanned<i64>;
/// A boolean with its position.
pub(crate) type Bool = Spanned<bool>;
/// A list of strings, each with its position, and the list's own position.
pub(crate) type StrList = Spanned<Vec<Str>>;

/// The whole document, section by section. Built by [`crate::read::read_document`].
#[derive(Debug, Default)]
pub(crate) struct RawConfig {
    /// Top-level `mode`.
    pub mode: Option<Str>,
    pub server: Option<RawServer>,
    pub listeners: Vec<RawListener>,
    pub limits: Option<RawLimits>,
    pub upstreams: Vec<RawUpstream>,
    pub routes: Vec<RawRoute>,
    pub priorities: Vec<RawPriority>,
    pub access: Option<RawAccess>,
    pub rate_limits: Vec<RawRateLimit>,
    pub flood: Option<RawFlood>,
    pub logins: Vec<RawLogin>,
    pub exfiltration: Vec<RawExfiltration>,
    pub waf: Option<RawWaf>,
    pub state: Option<RawState>,
    pub audit: Option<RawAudit>,
    pub incident: Option<RawIncident>,
    pub admin: Option<RawAdmin>,
    pub log: Option<RawLog>,
    pub drill: Option<RawDrill>,
    /// Top-level keys whose section (or one element of it) could not be read at all. Checks
    /// that need the complete set (is this upstream defined?) are skipped for them, so one
    /// mistake is not reported twice.
    pub incomplete: std::collections::BTreeSet<&'static str>,
}
