//! From a validated configuration to running parts: the proxy's runtime and the stages.
//!
//! `load` is shared by `run`, `check-config` and reload, so all three accept and refuse exactly
//! the same files.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rampart_config::{Config, ConfigErrors};
use rampart_core::{Pipeline, Stage};
use rampart_proxy::{
    Balance, CertFiles, ClientAddressSource, ClientIdentity, HealthSettings, Limits, ListenerSettings, RouteSettings,
    Runtime, TlsSettings, UpstreamSettings,
};

use crate::stages;

/// Every problem that stops a configuration from being used: the file's own errors, then
/// problems found while building (an unresolvable upstream host, a bad list file).
#[derive(Debug)]
pub enum LoadErrors {
    Config(ConfigErrors),
    Build(Vec<String>),
}

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadErrors::Config(e) => write!(f, "{e}"),
            LoadErrors::Build(lines) => write!(f, "{}", lines.join("\n")),
        }
    }
}

impl std::error::Error for LoadErrors {}

/// A configuration together with the stages built from it, ready to become a runtime.
pub struct Plan {
    pub config: Config,
    pub stages: Vec<Arc<dyn Stage>>,
    /// Facts worth saying at start (which rule set the WAF runs).
    pub notes: Vec<String>,
    upstreams: Vec<UpstreamSettings>,
}

/// Read, validate and build. Every error at once.
pub fn load(path: &Path) -> Result<Plan, LoadErrors> {
    let config = rampart_config::load(path).map_err(LoadErrors::Config)?;
    from_config(config)
}

/// Build from an already parsed configuration (the demo's embedded one).
pub fn from_config(config: Config) -> Result<Plan, LoadErrors> {
    let mut errors = Vec::new();
    let upstreams = upstream_settings(&config, &mut errors);
    let events = crate::incident::wrap(crate::audit::stage_sink());
    let stages = match stages::build(&config, events) {
        Ok(s) => s,
        Err(mut e) => {
            errors.append(&mut e);
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(LoadErrors::Build(errors));
    }
    Ok(Plan { config, stages, notes: Vec::new(), upstreams })
}

impl Plan {
    pub fn stage_names(&self) -> Vec<&'static str> {
        self.stages.iter().map(|s| s.name()).collect()
    }

    /// Sections that are parsed and checked but whose stages are not built yet: said at start
    /// and by `check-config`, so nobody believes they are protected by them.
    pub fn warnings(&self) -> Vec<String> {
        let c = &self.config;
        let mut w = Vec::new();
        let mut not_yet = |present: bool, what: &str| {
            if present {
                w.push(format!("{}: [{what}] is validated but not enforced yet by this version", c.source.display()));
            }
        };
        not_yet(!matches!(c.state.backend, rampart_config::StateBackend::Memory), "state.redis");
        w.extend(stages::warnings(c));
        w
    }

    pub fn limits(&self) -> Limits {
        proxy_limits(&self.config.limits)
    }

    pub fn listeners(&self) -> Vec<ListenerSettings> {
        self.config
            .listeners
            .iter()
            .map(|l| ListenerSettings {
                address: l.address,
                tls: l.tls.as_ref().map(|t| TlsSettings {
                    default: CertFiles { cert: t.cert.clone(), key: t.key.clone() },
                    sni: t
                        .sni
                        .iter()
                        .map(|s| (s.name.clone(), CertFiles { cert: s.cert.clone(), key: s.key.clone() }))
                        .collect(),
                }),
                http2: l.http2,
            })
            .collect()
    }

    /// The proxy runtime for this plan.
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        let c = &self.config;
        let routes = c
            .routes
            .iter()
            .map(|r| RouteSettings {
                name: r.name.clone(),
                host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
                path_prefix: r.path.clone(),
                upstream: r.upstream.clone(),
                sensitive: r.sensitive,
                websocket: r.websocket,
            })
            .collect();
        let identity = ClientIdentity {
            trusted_proxies: c.server.trusted_proxies.clone(),
            source: match c.server.client_address {
                rampart_config::ClientAddress::Peer => ClientAddressSource::Peer,
                rampart_config::ClientAddress::XForwardedFor => ClientAddressSource::XForwardedFor,
                rampart_config::ClientAddress::Forwarded => ClientAddressSource::Forwarded,
                rampart_config::ClientAddress::ProxyProtocol => ClientAddressSource::ProxyProtocol,
            },
        };
        // The incident tracker last: its logging hook sees every other stage's decisions.
        let mut stages = self.stages.clone();
        stages.extend(crate::incident::stage(c));
        let pipeline = Pipeline::new(stages, c.mode);
        let access_log = !matches!(c.log.access_log, rampart_config::AccessLog::Off);
        let runtime = Runtime::new(routes, self.upstreams.clone(), pipeline, self.limits(), identity, access_log)?;
        let gate = crate::defence::gate(c).map_err(anyhow::Error::msg)?;
        // Staff networks get a worker of their own (crate rampart_proxy::workers).
        let staff = c.priorities.iter().flat_map(|p| p.networks.iter().copied()).collect();
        Ok(runtime
            .with_gate(gate)
            .with_pressure(crate::defence::mitigation())
            .with_priority_networks(staff)
            .with_pinned_workers(c.server.pin_workers))
    }
}

fn proxy_limits(l: &rampart_config::Limits) -> Limits {
    let d = Limits::default();
    Limits {
        header_read_timeout: l.header_read_timeout,
        body_min_rate: l.body_min_rate,
        idle_timeout: l.idle_timeout,
        tunnel_idle_timeout: l.tunnel_idle_timeout,
        write_timeout: l.write_timeout,
        accept_rate: (l.accept_rate.per_second().round() as u64).clamp(1, u32::MAX as u64) as u32,
        max_request_line: l.max_request_line as usize,
        max_header_bytes: l.max_header_bytes as usize,
        max_headers: l.max_headers.get() as usize,
        max_body: l.max_body,
        max_connections: l.max_connections.get() as usize,
        max_connections_per_client: l.max_connections_per_client.get() as usize,
        max_connections_per_prefix: l.max_connections_per_prefix.get() as usize,
        ..d
    }
}

fn upstream_settings(config: &Config, errors: &mut Vec<String>) -> Vec<UpstreamSettings> {
    config
        .upstreams
        .iter()
        .map(|u| {
            let mut servers: Vec<SocketAddr> = Vec::new();
            for s in &u.servers {
                match (s.host.as_str(), s.port).to_socket_addrs() {
                    Ok(mut addrs) => match addrs.next() {
                        Some(a) => servers.push(a),
                        None => errors.push(format!("{}: upstream `{}`: `{}` resolves to no address", config.source.display(), u.name, s.host)),
                    },
                    Err(e) => errors.push(format!(
                        "{}: upstream `{}`: cannot resolve `{}:{}`: {e}",
                        config.source.display(),
                        u.name,
                        s.host,
                        s.port
                    )),
                }
            }
            UpstreamSettings {
                name: u.name.clone(),
                servers,
                balance: match u.balance {
                    rampart_config::Balance::RoundRobin => Balance::RoundRobin,
                    rampart_config::Balance::LeastConn => Balance::LeastConn,
                },
                connect_timeout: u.connect_timeout,
                read_timeout: u.read_timeout,
                health: u.health.as_ref().map(|h| HealthSettings {
                    path: h.path.clone(),
                    interval: h.interval,
                    timeout: h.timeout,
                    healthy_threshold: h.healthy_threshold.get(),
                    unhealthy_threshold: h.unhealthy_threshold.get(),
                }),
                eject_after: 3,
                eject_for: Duration::from_secs(10),
                max_in_flight: u.max_connections.map(|m| m.get()),
                forward_headers: u.forward_headers,
            }
        })
        .collect()
}
