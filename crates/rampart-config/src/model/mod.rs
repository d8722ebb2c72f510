//! The validated configuration: every value checked, typed and resolved.
//!
//! Durations are [`Duration`](std::time::Duration)s, networks [`ipnet::IpNet`]s, addresses
//! [`SocketAddr`](std::net::SocketAddr)s, counts that must not be zero `NonZeroU32`s, sizes
//! are bytes (`u64`, never zero), paths are resolved against the configuration file's
//! directory, patterns are compiled. Each stage's `mode` is already resolved against the
//! top-level `mode`: when the top level says `detect`, every stage says so too.

mod incident;
mod network;
mod ops;
mod stages;

use std::path::PathBuf;

pub use incident::*;
pub use network::*;
pub use ops::*;
pub use rampart_core::{ForwardHeaders, OnError, Rate, StageMode};
pub use stages::*;

/// A whole, valid `rampart.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this configuration was read from (as given to [`crate::load`] / [`crate::parse`]).
    pub source: PathBuf,
    /// Top-level `mode`: `enforce` (default) or `detect` — record every verdict, enforce none.
    pub mode: StageMode,
    /// `[server]`: how the client's address is found.
    pub server: Server,
    /// `[[listener]]`: at least one.
    pub listeners: Vec<Listener>,
    /// `[limits]`: connection and request limits; see [`Limits`] for each default.
    pub limits: Limits,
    /// `[[upstream]]`: the pools requests are proxied to. Names are unique.
    pub upstreams: Vec<Upstream>,
    /// `[[route]]`: first match wins. When the file has no route and exactly one upstream, one
    /// catch-all route (`path = "/"`) to that upstream is made here.
    pub routes: Vec<Route>,
    /// `[[priority]]`: who is served first when capacity is short; first match wins, unmatched
    /// requests are in class [`PUBLIC_CLASS`].
    pub priorities: Vec<Priority>,
    /// `[access]`: allow and deny lists. `None` when the section is absent.
    pub access: Option<Access>,
    /// `[[rate_limit]]`: each one a separate limit; all apply.
    pub rate_limits: Vec<RateLimit>,
    /// `[flood]`: the adaptive flood detector. Enabled by default.
    pub flood: Flood,
    /// `[[login]]`: login endpoints guarded against credential stuffing.
    pub logins: Vec<Login>,
    /// `[[exfiltration]]`: data budgets on sensitive routes.
    pub exfiltration: Vec<Exfiltration>,
    /// `[waf]`: the SecLang WAF. `None` when the section is absent (no WAF).
    pub waf: Option<Waf>,
    /// `[state]`: where counters and ban lists live. Default: in memory, 256 MiB.
    pub state: State,
    /// `[audit]`: the tamper-evident audit trail. `None` when the section is absent.
    pub audit: Option<Audit>,
    /// `[incident]`: the incident tracker and its reports. `None` when the section is absent
    /// (no incidents are tracked).
    pub incident: Option<Incident>,
    /// `[admin]`: the admin API and console. `None` when the section is absent (no admin
    /// listener).
    pub admin: Option<Admin>,
    /// `[log]`: diagnostics and access log. Default: `info`, JSON, access log on stdout.
    pub log: Log,
    /// `[drill]`: which non-loopback targets `rampart drill` may rehearse against. Default:
    /// none (loopback only).
    pub drill: Drill,
}

impl Config {
    /// The `[limits]` used when the section or a key is absent (see [`Limits`]).
    pub fn default_limits() -> Limits {
        Limits::default()
    }

    /// The `[server]` used when the section is absent: no trusted proxy, the peer address is
    /// the client.
    pub fn default_server() -> Server {
        Server::default()
    }

    /// The `[state]` used when the section is absent: in memory, 256 MiB ceiling.
    pub fn default_state() -> State {
        State::default()
    }

    /// The `[log]` used when the section is absent.
    pub fn default_log() -> Log {
        Log::default()
    }

    /// The `[flood]` used when the section is absent: enabled, medium sensitivity.
    pub fn default_flood() -> Flood {
        Flood::default()
    }

    /// The upstream a route sends to.
    pub fn upstream_of(&self, route: &Route) -> Option<&Upstream> {
        self.upstreams.get(route.upstream_index)
    }

    /// The route named `name`.
    pub fn route(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.name == name)
    }
}
