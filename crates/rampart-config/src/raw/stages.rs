//! The defensive stages: `[[priority]]`, `[access]`, `[[rate_limit]]`, `[flood]`,
//! `[[login]]`, `[[exfiltration]]`, `[waf]`.

use serde::Deserialize;

use super::{Bool, Int, Spanned, Str, StrList};

/// `[[priority]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPriority {
    pub class: Str,
    pub networks: Option<StrList>,
    pub cookie: Option<Str>,
    pub header: Option<Str>,
    pub verify: Option<RawVerify>,
}

/// `[priority.verify]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVerify {
    pub jwt_hs256_key_file: Str,
}

/// `[access]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccess {
    pub deny: Option<StrList>,
    pub deny_files: Option<StrList>,
    pub allow: Option<StrList>,
    pub allow_files: Option<StrList>,
    pub mode: Option<Str>,
    pub on_error: Option<Str>,
}

/// `[[rate_limit]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRateLimit {
    pub name: Option<Str>,
    pub key: Option<Str>,
    pub rate: Str,
    pub burst: Option<Int>,
    pub action: Option<Str>,
    pub routes: Option<StrList>,
    pub path: Option<Str>,
    pub ban: Option<RawBan>,
    pub mode: Option<Str>,
    pub on_error: Option<Str>,
}

/// `[rate_limit.ban]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBan {
    pub after: Int,
    pub duration: Str,
}

/// `[flood]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlood {
    pub enabled: Option<Bool>,
    pub sensitivity: Option<Str>,
    pub challenge_difficulty: Option<Spanned<toml::Value>>,
    pub min_rate: Option<Str>,
    pub heavy_hitter_rate: Option<Str>,
    pub ban_duration: Option<Str>,
    pub clearance_ttl: Option<Str>,
    pub challenge_wait: Option<Str>,
    pub challenge_secret_file: Option<Str>,
    pub exempt_paths: Option<StrList>,
    pub mode: Option<Str>,
    pub on_error: Option<Str>,
}

/// `[[login]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLogin {
    pub path: Str,
    pub method: Option<Str>,
    pub username_field: Option<Str>,
    pub password_field: Option<Str>,
    pub failure: RawLoginFailure,
    pub per_username: Option<Str>,
    pub per_client: Option<Str>,
    pub per_prefix: Option<Str>,
    pub per_clearance: Option<Str>,
    pub username_key_file: Option<Str>,
    pub detect: Option<RawLoginDetect>,
    pub action: Option<Str>,
    pub mode: Option<Str>,
    pub on_error: Option<Str>,
}

/// `[login.detect]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoginDetect {
    pub window: Option<Str>,
    pub failures: Option<Int>,
    pub sources: Option<Int>,
    pub usernames_per_source: Option<Int>,
    pub sources_per_username: Option<Int>,
    pub usernames_per_password: Option<Int>,
}

/// `[login.failure]`: exactly one of the three.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoginFailure {
    pub status: Option<Int>,
    pub redirect: Option<Str>,
    pub body: Option<Str>,
}

/// `[[exfiltration]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExfiltration {
    pub route: Str,
    pub identity: Option<Str>,
    pub budget: RawBudget,
    pub records_from: Option<Str>,
    pub enumeration: Option<RawEnumeration>,
    pub never_leave: Option<StrList>,
    pub action: Option<Str>,
    pub mode: Option<Str>,
}

/// `[exfiltration.enumeration]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnumeration {
    pub ids: Str,
    pub max_ids: Option<Int>,
    pub max_steps: Option<Int>,
    pub max_steps_all: Option<Int>,
    pub per: Option<Str>,
}

/// `[exfiltration.budget]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBudget {
    pub requests: Option<Int>,
    pub records: Option<Int>,
    pub bytes: Option<Str>,
    pub per: Str,
}

/// `[waf]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWaf {
    pub rules: StrList,
    pub paranoia: Option<Int>,
    pub mode: Option<Str>,
    pub request_body_limit: Option<Str>,
    pub request_body_no_files_limit: Option<Str>,
    pub request_body_limit_action: Option<Str>,
    pub inspect_response_body: Option<Bool>,
    pub response_body_limit: Option<Str>,
    pub response_body_mime_types: Option<StrList>,
    pub on_error: Option<Str>,
}
