//! The defensive stages: priority, access lists, rate limits, flood, login, exfiltration, WAF.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use rampart_core::{OnError, Rate, StageMode};

/// The class of every request no `[[priority]]` entry matches.
pub use rampart_core::PUBLIC_CLASS;

/// `[[priority]]`: a rule putting matching requests in a class. A rule matches when any of
/// its matchers does (at least one is present).
#[derive(Debug, Clone)]
pub struct Priority {
    /// `class`: the class name (`"staff"`). Several rules may name the same class.
    pub class: String,
    /// `networks`: client addresses in these networks match. Default: none.
    pub networks: Vec<IpNet>,
    /// `cookie`: a request carrying this cookie matches (verified by `verify` when set).
    pub cookie: Option<String>,
    /// `header`: a request carrying this header matches (verified by `verify` when set).
    pub header: Option<String>,
    /// `verify`: how the cookie or header is checked; `None` trusts its presence.
    pub verify: Option<Verify>,
}

/// `[priority.verify]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verify {
    /// `jwt_hs256_key_file`: the value must be a JWT signed HS256 with this key (checked to
    /// exist and be readable).
    pub jwt_hs256_key_file: PathBuf,
}

/// `[access]`: static allow and deny lists, checked at connection time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `deny`: networks refused outright. Default: none.
    pub deny: Vec<IpNet>,
    /// `deny_files`: files of networks (one per line, `;` or `#` comments, as Spamhaus DROP)
    /// refused outright; re-read on reload. Checked to exist here.
    pub deny_files: Vec<PathBuf>,
    /// `allow`: networks always let in, skipping every other stage. Default: none.
    pub allow: Vec<IpNet>,
    /// `allow_files`: as `deny_files`, for `allow`.
    pub allow_files: Vec<PathBuf>,
    /// `mode`: default `enforce` (or the top-level `mode`).
    pub mode: StageMode,
    /// `on_error`: when a list file cannot be re-read. Default: `open`.
    pub on_error: OnError,
}

/// `[[rate_limit]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// `name`: for logs and metrics. Default: `"rate_limit[N]"` (N from 1, in file order).
    pub name: String,
    /// `key`: what is counted. Default: [`RateKey::Client`].
    pub key: RateKey,
    /// `rate`: sustained rate (`"20/s"`, `"600/m"`). Required.
    pub rate: Rate,
    /// `burst`: requests allowed above the rate at once. Default: the rate's count.
    pub burst: NonZeroU32,
    /// `action`: what happens above the limit. Default: [`RateAction::Throttle`].
    pub action: RateAction,
    /// `routes` or `path`: which requests the limit applies to. Default: all.
    pub scope: RateScope,
    /// `ban`: ban a key that keeps exceeding the limit. Default: none.
    pub ban: Option<Ban>,
    /// `mode`: default `enforce` (or the top-level `mode`).
    pub mode: StageMode,
    /// `on_error`: when shared state is unavailable. Default: `open`.
    pub on_error: OnError,
}

/// `[[rate_limit]] key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateKey {
    /// `"client"`: the client address (after trusted-proxy resolution).
    Client,
    /// `"prefix"`: the client's /24 (IPv4) or /64 (IPv6).
    Prefix,
    /// `"route"`: the route, whoever asks (a global cap).
    Route,
    /// `"header:NAME"`: the value of a request header (an API key); the name is lower-cased.
    Header(String),
    /// `"cookie:NAME"`: the value of a cookie.
    Cookie(String),
}

/// `[[rate_limit]] action`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RateAction {
    /// `"throttle"`: 429 with `Retry-After` (the default).
    #[default]
    Throttle,
    /// `"block"`: 403.
    Block,
    /// `"challenge"`: a proof-of-work challenge; passing it clears the client for a while.
    Challenge,
}

/// Which requests a rate limit counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateScope {
    /// Every request (neither `routes` nor `path`).
    All,
    /// `routes`: requests matched to these routes (by route name or path).
    Routes(Vec<String>),
    /// `path`: requests whose path starts with this prefix.
    PathPrefix(String),
}

/// `[rate_limit.ban]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ban {
    /// `after`: consecutive rejections that trigger a ban.
    pub after: NonZeroU32,
    /// `duration`: how long the ban lasts.
    pub duration: Duration,
}

/// `[flood]`: the adaptive flood detector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flood {
    /// `enabled`: Default `true`.
    pub enabled: bool,
    /// `sensitivity`: how far from the learned baseline counts as an attack. Default `medium`.
    pub sensitivity: Sensitivity,
    /// `challenge_difficulty`: `"auto"` (default) or a fixed number of proof-of-work bits,
    /// 1 to 32.
    pub challenge_difficulty: ChallengeDifficulty,
    /// `min_rate`: below this request rate nothing is an attack, whatever the baseline.
    /// Default `50/s`.
    pub min_rate: Rate,
    /// `heavy_hitter_rate`: during an attack, an address above this rate is banned (a /24
    /// or /64 above four times it). Default `50/s`.
    pub heavy_hitter_rate: Rate,
    /// `ban_duration`: how long automatic bans last. Default `10m`.
    pub ban_duration: Duration,
    /// `clearance_ttl`: how long a solved challenge clears a browser. Default `1h`.
    pub clearance_ttl: Duration,
    /// `challenge_wait`: the no-JavaScript path's wait (doubled under attack). Default `5s`.
    pub challenge_wait: Duration,
    /// `challenge_secret_file`: the secret clearances are signed with, shared by every node
    /// (at least 32 bytes). Default: a random secret per process.
    pub challenge_secret_file: Option<PathBuf>,
    /// `exempt_paths`: path prefixes never challenged (API clients); the flood defence
    /// throttles or drops there instead. Default: none.
    pub exempt_paths: Vec<String>,
    /// `mode`: default `enforce` (or the top-level `mode`).
    pub mode: StageMode,
    /// `on_error`: Default `open`.
    pub on_error: OnError,
}

impl Default for Flood {
    fn default() -> Flood {
        Flood {
            enabled: true,
            sensitivity: Sensitivity::Medium,
            challenge_difficulty: ChallengeDifficulty::Auto,
            min_rate: Rate { count: 50, per: Duration::from_secs(1) },
            heavy_hitter_rate: Rate { count: 50, per: Duration::from_secs(1) },
            ban_duration: Duration::from_secs(600),
            clearance_ttl: Duration::from_secs(3600),
            challenge_wait: Duration::from_secs(5),
            challenge_secret_file: None,
            exempt_paths: Vec::new(),
            mode: StageMode::Enforce,
            on_error: OnError::Open,
        }
    }
}

/// `[flood] sensitivity`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sensitivity {
    /// `"low"`: only gross departures from the baseline.
    Low,
    /// `"medium"`: the default.
    #[default]
    Medium,
    /// `"high"`: react early; more false alarms.
    High,
}

/// `[flood] challenge_difficulty`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChallengeDifficulty {
    /// `"auto"`: raised with the attack's strength (the default).
    #[default]
    Auto,
    /// A fixed number of leading zero bits, 1 to 32.
    Bits(u8),
}

/// `[[login]]`: a login endpoint guarded against credential stuffing.
#[derive(Debug, Clone)]
pub struct Login {
    /// `path`: the login form's target path. Required.
    pub path: String,
    /// `method`: Default `"POST"`.
    pub method: String,
    /// `username_field`: the form or JSON field with the user name. Default `"username"`.
    pub username_field: String,
    /// `password_field`: Default `"password"`.
    pub password_field: String,
    /// `failure`: how a failed attempt is recognised in the response. Required.
    pub failure: LoginFailure,
    /// `per_username`: failed attempts allowed per user name. Default `5/15m`.
    pub per_username: Rate,
    /// `per_client`: failed attempts allowed per client. Default `20/10m`. A client's refused
    /// attempts count too; it is slowed (429) from a quarter of the budget, challenged from half,
    /// blocked from the whole until its count falls back under it.
    pub per_client: Rate,
    /// `per_prefix`: as `per_client`, per /24 (IPv4) or /64 (IPv6). Default `60/10m`.
    pub per_prefix: Rate,
    /// `per_clearance`: as `per_client`, per clearance token (a solved challenge reused for
    /// stuffing is burnt). Default `10/10m`.
    pub per_clearance: Rate,
    /// `username_key_file`: the HMAC-SHA256 key user names are hashed with (so that hashes in
    /// logs match across restarts and nodes). Default: a random key per process.
    pub username_key_file: Option<PathBuf>,
    /// `detect`: when failures across many requests are an attack.
    pub detect: LoginDetect,
    /// `action`: above the `per_username` budget or during a detected attack. Default
    /// [`RateAction::Challenge`].
    pub action: RateAction,
    /// `mode`: default `enforce` (or the top-level `mode`).
    pub mode: StageMode,
    /// `on_error`: Default `open`.
    pub on_error: OnError,
}

/// `[login.detect]`: thresholds of the pattern detectors, counted over `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginDetect {
    /// `window`: Default `1m`.
    pub window: Duration,
    /// `failures`: failed logins in the window, from `sources` distinct sources or more, that
    /// make a distributed stuffing run. Default 100.
    pub failures: u32,
    /// `sources`: Default 30.
    pub sources: u32,
    /// `usernames_per_source`: distinct user names failing from one client: stuffing from few
    /// sources. Default 10.
    pub usernames_per_source: u32,
    /// `sources_per_username`: distinct clients failing on one user name: stuffing of one
    /// account from many sources. Default 10.
    pub sources_per_username: u32,
    /// `usernames_per_password`: distinct user names one password failed on: spraying.
    /// Default 10.
    pub usernames_per_password: u32,
}

impl Default for LoginDetect {
    fn default() -> LoginDetect {
        LoginDetect {
            window: Duration::from_secs(60),
            failures: 100,
            sources: 30,
            usernames_per_source: 10,
            sources_per_username: 10,
            usernames_per_password: 10,
        }
    }
}

/// `[login.failure]`: exactly one of `status`, `redirect`, `body`.
#[derive(Debug, Clone)]
pub enum LoginFailure {
    /// `{ status = 401 }`: the response has this status.
    Status(u16),
    /// `{ redirect = "/login?failed" }`: the response redirects to this location (prefix).
    Redirect(String),
    /// `{ body = "invalid" }`: the response body matches this regular expression.
    Body(regex::Regex),
}

/// `[[exfiltration]]`: a data budget on a sensitive route.
///
/// Several entries may name the same route: a request is judged by the first entry (in file
/// order) one of whose `identity` alternatives applies to it, so that a staff entry before a
/// `client` entry gives staff a larger budget than anyone else.
#[derive(Debug, Clone)]
pub struct Exfiltration {
    /// `route`: the path of a `[[route]]` (or its name). Required.
    pub route: String,
    /// The matched route's path prefix (`route` resolved).
    pub path: String,
    /// `identity`: who the budget belongs to, alternatives tried left to right
    /// (`"staff:session|client"`). Default `"client"`.
    pub identity: Vec<Identity>,
    /// `budget`: what may be taken per period.
    pub budget: Budget,
    /// `records_from`: how a response's records are counted. Default [`RecordSource::Auto`].
    pub records_from: RecordSource,
    /// `enumeration`: id-walk detection. Default: none.
    pub enumeration: Option<Enumeration>,
    /// `never_leave`: regular expressions no response body on the route may match (card
    /// numbers, password hashes); a match withholds the response whoever asked. Default none.
    pub never_leave: Vec<regex::bytes::Regex>,
    /// `action`: over budget. Default [`ExfiltrationAction::Block`].
    pub action: ExfiltrationAction,
    /// `mode`: default `enforce` (or the top-level `mode`).
    pub mode: StageMode,
}

/// One alternative of an exfiltration `identity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// `client`: the client address.
    Client,
    /// `prefix`: the client's /24 or /64.
    Prefix,
    /// `header:NAME`: a request header's value.
    Header(String),
    /// `cookie:NAME`: a cookie's value.
    Cookie(String),
    /// `clearance`: the clearance token of a solved challenge.
    Clearance,
    /// `CLASS:COOKIE`: a member of a `[[priority]]` class (per verified subject when the
    /// priority stage checked a signed cookie, else per address), e.g. `staff:session`.
    Class {
        /// The priority class.
        class: String,
        /// The cookie that identifies a member.
        cookie: String,
    },
}

/// `[exfiltration.enumeration]`: walks over the ids of record pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enumeration {
    /// `ids`: where the id sits in the path, `"/contacts/{id}"`: the text before and after.
    pub prefix: String,
    pub suffix: String,
    /// `max_ids`: distinct ids one identity may view per `per`. Default 100.
    pub max_ids: u32,
    /// `max_steps`: views of an id next to one the same identity viewed (a sequential walk).
    /// Default 20.
    pub max_steps: u32,
    /// `max_steps_all`: the same across every identity without a class (a walk split over
    /// many sources). Default 20.
    pub max_steps_all: u32,
    /// `per`: Default the budget's `per`.
    pub per: Duration,
}

/// `[[exfiltration]] records_from`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RecordSource {
    /// `"auto"`: the `x-record-count` header when the app sets it, else by content type:
    /// a JSON body's top-level array (or the largest array one level down), CSV lines less the
    /// header, 1 for anything else (the default).
    #[default]
    Auto,
    /// `"json"`.
    Json,
    /// `"csv"`.
    Csv,
    /// `"header:NAME"`: a number the app sets in this header.
    Header(String),
}

/// `[exfiltration.budget]`: at least one of `requests`, `records` and `bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// `requests`: requests per period.
    pub requests: Option<NonZeroU32>,
    /// `records`: records (JSON array elements, table rows) per period.
    pub records: Option<NonZeroU32>,
    /// `bytes`: response body bytes per period.
    pub bytes: Option<u64>,
    /// `per`: the period.
    pub per: Duration,
}

/// `[[exfiltration]] action`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExfiltrationAction {
    /// `"block"`: refuse further responses until the period ends (the default).
    #[default]
    Block,
    /// `"throttle"`: 429 with `Retry-After`.
    Throttle,
    /// `"challenge"`: a proof-of-work challenge.
    Challenge,
    /// `"alert"`: let them through, raise an incident.
    Alert,
}

/// `[waf]`: the SecLang engine and its rule files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waf {
    /// `rules`: rule files in load order, each glob expanded (sorted) and resolved.
    pub rules: Vec<PathBuf>,
    /// `paranoia`: CRS paranoia level, 1 (default) to 4.
    pub paranoia: u8,
    /// `mode`: `"block"` (enforce, default) or `"detect"`.
    pub mode: StageMode,
    /// `request_body_limit`: bodies above this are handled per `request_body_limit_action`.
    /// Default `12.5MiB` (ModSecurity `SecRequestBodyLimit 13107200`).
    pub request_body_limit: u64,
    /// `request_body_no_files_limit`: the same, not counting uploaded files. Default `128KiB`.
    pub request_body_no_files_limit: u64,
    /// `request_body_limit_action`: Default [`BodyLimitAction::Reject`].
    pub request_body_limit_action: BodyLimitAction,
    /// `inspect_response_body`: Default `false`.
    pub inspect_response_body: bool,
    /// `response_body_limit`: bytes of a response body inspected. Default `512KiB`.
    pub response_body_limit: u64,
    /// `response_body_mime_types`: which responses are inspected. Default `text/plain`,
    /// `text/html`, `text/xml`, `application/json`.
    pub response_body_mime_types: Vec<String>,
    /// `on_error`: Default `closed` (a silent pass would let an attack through).
    pub on_error: OnError,
}

/// `[waf] request_body_limit_action`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BodyLimitAction {
    /// `"reject"`: 413 (the default).
    #[default]
    Reject,
    /// `"process_partial"`: inspect the first `request_body_limit` bytes only.
    ProcessPartial,
}
