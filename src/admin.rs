//! The admin listener's view of the running shield.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use rampart_console::{AdminBackend, AdminCall};
use rampart_core::Event;
use rampart_proxy::Proxy;

/// Where a reload reads its configuration from.
#[derive(Clone)]
pub enum ConfigSource {
    File(PathBuf),
    /// The demo's embedded configuration: a reload rebuilds from the same text.
    Embedded(&'static str),
}

impl ConfigSource {
    /// The digest (`sha256:HEX`) of the configuration text as it is now.
    pub fn digest(&self) -> Option<String> {
        match self {
            ConfigSource::File(path) => std::fs::read(path).ok().map(|b| rampart_audit::record::digest(&b)),
            ConfigSource::Embedded(text) => Some(rampart_audit::record::digest(text.as_bytes())),
        }
    }

    /// Read and build the configuration, with the digest (`sha256:HEX`) of the exact text
    /// that was built (`None` when the file could not be read).
    pub fn load(&self) -> (Result<crate::wiring::Plan, crate::wiring::LoadErrors>, Option<String>) {
        match self {
            ConfigSource::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => {
                    let digest = rampart_audit::record::digest(text.as_bytes());
                    let plan = rampart_config::parse(&text, path)
                        .map_err(crate::wiring::LoadErrors::Config)
                        .and_then(crate::wiring::from_config);
                    (plan, Some(digest))
                }
                // Let `load` say why, as `run` and `check-config` do.
                Err(_) => (crate::wiring::load(path), None),
            },
            ConfigSource::Embedded(text) => {
                (crate::demo::embedded_plan(text), Some(rampart_audit::record::digest(text.as_bytes())))
            }
        }
    }
}

/// The running shield, as the admin API sees it.
pub struct Shield {
    pub proxy: Arc<Proxy>,
    pub source: ConfigSource,
    pub started: Instant,
    pub listeners: Vec<String>,
}

impl Shield {
    /// Re-read the configuration and swap it in, or keep the running one and say why.
    pub fn reload_now(&self) -> Result<String, String> {
        let (plan, digest) = self.source.load();
        let result = plan.map_err(|e| e.to_string()).and_then(|plan| {
            let stages = plan.stage_names().join(",");
            plan.runtime().map(|rt| (rt, stages)).map_err(|e| e.to_string())
        });
        let at = std::time::SystemTime::now();
        match result {
            Ok((runtime, stages)) => {
                self.proxy.install(runtime);
                let detail = format!("stages: {stages}");
                tracing::info!(target: "rampart::config", %detail, "configuration reloaded");
                self.proxy.events.emit(Event::ConfigReload { at, ok: true, detail: detail.clone(), digest });
                Ok(detail)
            }
            Err(errors) => {
                self.proxy.metrics.reloads_failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(target: "rampart::config", %errors, "reload refused; the running configuration stays");
                self.proxy.events.emit(Event::ConfigReload { at, ok: false, detail: errors.clone(), digest });
                Err(errors)
            }
        }
    }
}

impl AdminBackend for Shield {
    fn metrics(&self) -> String {
        let rt = self.proxy.runtime();
        let mut gauges = Vec::new();
        let total: usize = rt.pipeline.stages().iter().map(|s| s.memory_bytes()).sum();
        gauges.push((
            "rampart_stage_memory_bytes".to_string(),
            "Bytes held by the stages' keyed state (sketches, top-K, ban lists).".to_string(),
            total as f64,
        ));
        let mut pools: Vec<_> = rt.pools.iter().collect();
        pools.sort_by(|a, b| a.0.cmp(b.0));
        let per_pool: [(&str, &str, fn(&rampart_proxy::upstream::Pool) -> f64); 4] = [
            ("rampart_upstream_healthy_servers", "Servers of the pool usable now.", |p| p.healthy_count() as f64),
            (
                "rampart_upstream_concurrency_limit",
                "The pool's adaptive concurrency limit (requests at once), found from its latency.",
                |p| f64::from(p.admission.limit()),
            ),
            ("rampart_upstream_in_flight", "Requests holding one of the pool's slots now.", |p| f64::from(p.admission.in_flight())),
            ("rampart_upstream_waiting", "Requests waiting in the shield for one of the pool's slots.", |p| p.admission.waiting() as f64),
        ];
        for (metric, help, value) in per_pool {
            for (name, pool) in &pools {
                gauges.push((format!("{metric}{{upstream=\"{name}\"}}"), help.to_string(), value(pool)));
            }
        }
        self.proxy.metrics.render(self.proxy.guard.open(), &gauges)
    }

    fn ready(&self) -> Result<(), String> {
        let rt = self.proxy.runtime();
        let down: Vec<&str> =
            rt.pools.iter().filter(|(_, p)| p.healthy_count() == 0).map(|(n, _)| n.as_str()).collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(format!("no usable server in upstream(s): {}", down.join(", ")))
        }
    }

    fn reload(&self) -> Result<String, String> {
        self.reload_now()
    }

    fn mode(&self) -> serde_json::Value {
        let m = crate::defence::mitigation();
        let pin = m.pin();
        serde_json::json!({
            "mode": m.refresh(std::time::Instant::now()).as_str(),
            "detected": m.detected().as_str(),
            "pinned": pin.map(|p| p.mode.as_str()),
            "pinned_for_secs": pin.and_then(|p| p.until).map(|u| u.saturating_duration_since(std::time::Instant::now()).as_secs()),
        })
    }

    fn set_mode(&self, mode: &str, for_secs: Option<u64>) -> Result<serde_json::Value, String> {
        let m = crate::defence::mitigation();
        let now = std::time::Instant::now();
        let before = m.mode();
        let pin = if mode == "auto" {
            None
        } else {
            let mode = rampart_shield::Mode::parse(mode)
                .ok_or_else(|| format!("unknown mode `{mode}`: expected normal, elevated, under_attack or auto"))?;
            Some(rampart_shield::Pin { mode, until: for_secs.map(|s| now + std::time::Duration::from_secs(s)) })
        };
        let after = m.set_pin(pin, now);
        if after != before {
            self.proxy.events.emit(rampart_core::Event::ModeChange {
                at: std::time::SystemTime::now(),
                from: before.as_str(),
                to: after.as_str(),
                reason: format!("set by an operator through the admin API ({})", if pin.is_some() { "pinned" } else { "released" }),
                fingerprints: Vec::new(),
            });
        }
        Ok(self.mode())
    }

    /// Every reload and mode call through the admin API, and every refused attempt, goes on
    /// the record. There is one admin token: its holder is who acted, from the peer address.
    fn audit_call(&self, call: &AdminCall<'_>) {
        let from = call.peer.map(|p| p.to_string()).unwrap_or_else(|| "an unknown address".into());
        let actor = if call.authorized {
            format!("admin token holder from {from}")
        } else {
            format!("caller without a valid admin token from {from}")
        };
        self.proxy.events.emit(Event::Admin {
            at: std::time::SystemTime::now(),
            actor,
            action: call.action,
            ok: call.ok,
            detail: call.detail.to_string(),
        });
    }

    fn incidents(&self) -> serde_json::Value {
        serde_json::to_value(crate::incident::recent()).unwrap_or_default()
    }

    fn open_incident(&self, reason: &str) -> Result<serde_json::Value, String> {
        crate::incident::open_manual(reason).map(|id| serde_json::json!({ "id": id }))
    }

    fn status(&self) -> serde_json::Value {
        let rt = self.proxy.runtime();
        let upstreams: serde_json::Map<String, serde_json::Value> = rt
            .pools
            .iter()
            .map(|(name, pool)| {
                let servers: Vec<serde_json::Value> = pool
                    .servers
                    .iter()
                    .map(|s| serde_json::json!({"address": s.addr.to_string(), "usable": s.usable(), "in_flight": s.in_flight()}))
                    .collect();
                (name.clone(), serde_json::Value::Array(servers))
            })
            .collect();
        serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": self.started.elapsed().as_secs(),
            "listeners": self.listeners,
            "mode": format!("{:?}", rt.pipeline.mode()).to_lowercase(),
            "stages": rt.pipeline.stages().iter().map(|s| s.name()).collect::<Vec<_>>(),
            "upstreams": upstreams,
            "connections_open": self.proxy.guard.open(),
            "responses_total": self.proxy.metrics.responses_total(),
        })
    }
}
