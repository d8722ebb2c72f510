//! [`LoginSettings`]: how a [`crate::LoginGuard`] is configured (built by the binary from
//! `[[login]]`).

use std::time::Duration;

use http::Method;
use rampart_core::{OnError, Rate, StageMode};

use crate::login_key::UsernameKey;
use crate::rate_limit_settings::LimitAction;

/// How a failed login shows in the response.
#[derive(Debug, Clone)]
pub enum FailureSignal {
    /// The response has this status (`401`).
    Status(u16),
    /// The response redirects (3xx) to a location starting with this (`/login?failed`).
    Redirect(String),
    /// The response body matches (the body is buffered for login requests only).
    Body(regex::Regex),
}

/// Thresholds of the pattern detectors, counted over `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectSettings {
    pub window: Duration,
    /// Failures in the window, together with `sources` distinct sources: distributed stuffing.
    pub failures: u32,
    pub sources: u32,
    /// Distinct user names failing from one client: stuffing from few sources.
    pub usernames_per_source: u32,
    /// Distinct sources failing on one user name: one account stuffed from many sources.
    pub sources_per_username: u32,
    /// Distinct user names one password failed on: spraying.
    pub usernames_per_password: u32,
}

impl Default for DetectSettings {
    fn default() -> DetectSettings {
        DetectSettings {
            window: Duration::from_secs(60),
            failures: 100,
            sources: 30,
            usernames_per_source: 10,
            sources_per_username: 10,
            usernames_per_password: 10,
        }
    }
}

/// One guarded login endpoint.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    pub path: String,
    /// Default `POST`.
    pub method: Method,
    /// Default `username`.
    pub username_field: String,
    /// Default `password`.
    pub password_field: String,
    pub failure: FailureSignal,
    /// Failures allowed per user name (then `action` for anyone without a class or clearance).
    /// Default 5 per 15 minutes.
    pub per_username: Rate,
    /// Failed and refused attempts per client: slowed from a quarter, challenged from half,
    /// blocked from the whole. Default 20 per 10 minutes.
    pub per_client: Rate,
    /// The same per /24 or /64. Default 60 per 10 minutes.
    pub per_prefix: Rate,
    /// The same per clearance token. Default 10 per 10 minutes.
    pub per_clearance: Rate,
    pub detect: DetectSettings,
    /// The answer above `per_username` and during a detected attack. Default challenge.
    pub action: LimitAction,
    /// The HMAC key for user names. Default: random per process.
    pub key: UsernameKey,
    /// Bytes for all counts. Default 4 MiB.
    pub memory_bytes: usize,
    pub mode: StageMode,
    pub on_error: OnError,
}

/// How many times a staff member's (or verified subject's) own budget is the public one:
/// they are judged apart from the public, never by the attack defences, and get far more room.
pub const STAFF_FACTOR: u32 = 5;

impl LoginSettings {
    /// Defaults for `path` with `failure`.
    pub fn new(path: impl Into<String>, failure: FailureSignal) -> LoginSettings {
        let minutes = |n: u64| Duration::from_secs(60 * n);
        LoginSettings {
            path: path.into(),
            method: Method::POST,
            username_field: "username".into(),
            password_field: "password".into(),
            failure,
            per_username: Rate { count: 5, per: minutes(15) },
            per_client: Rate { count: 20, per: minutes(10) },
            per_prefix: Rate { count: 60, per: minutes(10) },
            per_clearance: Rate { count: 10, per: minutes(10) },
            detect: DetectSettings::default(),
            action: LimitAction::Challenge,
            key: UsernameKey::random(),
            memory_bytes: 4 << 20,
            mode: StageMode::Enforce,
            on_error: OnError::Open,
        }
    }
}
