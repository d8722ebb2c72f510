//! `rampart run`: listeners, the admin listener, signals (SIGTERM/SIGINT drain and stop, SIGHUP
//! reloads).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rampart_core::{Event, EventSink};
use rampart_proxy::{tls, Proxy};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{ConfigSource, Shield};
use crate::wiring::Plan;

/// How long in-flight requests get to finish after a stop signal.
const DRAIN: Duration = Duration::from_secs(20);

/// Writes security events as JSON log lines (`target: rampart::event`), the operator's record
/// until the audit trail takes them.
pub struct LogSink;

impl EventSink for LogSink {
    fn emit(&self, event: Event) {
        match event {
            Event::Decision { request, client, decision, .. } => tracing::info!(
                target: "rampart::event",
                kind = "decision",
                request_id = %request,
                client = %client,
                stage = decision.stage,
                verdict = decision.verdict.kind(),
                enforced = decision.enforced,
                reason = decision.verdict.reason(),
            ),
            Event::ConnectionRefused { client, reason, .. } => {
                tracing::info!(target: "rampart::event", kind = "connection_refused", client = %client, reason)
            }
            Event::Ban { client, reason, .. } => tracing::warn!(target: "rampart::event", kind = "ban", client = %client, reason),
            Event::ConfigReload { ok, detail, .. } => {
                tracing::info!(target: "rampart::event", kind = "config_reload", ok, detail)
            }
            Event::ModeChange { from, to, reason, fingerprints, .. } => tracing::warn!(
                target: "rampart::event",
                kind = "mode_change",
                from,
                to,
                reason,
                fingerprints = ?fingerprints,
            ),
            Event::Detection { stage, pattern, client, identity, route, volume, response, .. } => tracing::warn!(
                target: "rampart::event",
                kind = "detection",
                stage,
                pattern,
                client = %client,
                identity,
                route,
                volume,
                response,
            ),
            // The access log has the request already; the bytes sent are for the audit trail.
            Event::Access(a) => tracing::debug!(
                target: "rampart::event",
                kind = "access",
                request_id = %a.request,
                client = %a.client,
                class = &*a.identity.class,
                route = &*a.route,
                status = a.status,
                bytes = a.bytes,
                records = a.records,
                complete = a.complete,
                flagged = a.flagged.len(),
            ),
            Event::Admin { actor, action, ok, detail, .. } => {
                tracing::warn!(target: "rampart::event", kind = "admin", actor, action, ok, detail)
            }
        }
    }
}

pub async fn run(config: PathBuf) -> anyhow::Result<()> {
    let plan = match crate::wiring::load(&config) {
        Ok(p) => p,
        Err(errors) => anyhow::bail!("configuration refused:\n{errors}"),
    };
    crate::logging::init(&plan.config.log)?;
    let admin = match &plan.config.admin {
        Some(a) => {
            let token = std::fs::read_to_string(&a.token_file)
                .with_context(|| format!("reading admin token {}", a.token_file.display()))?
                .trim()
                .to_string();
            Some(AdminSettings { address: a.address, token: Some(token) })
        }
        None => None,
    };
    let (_started, stop) = start(plan, ConfigSource::File(config), admin).await?;
    stop.await
}

/// A running shield: its bound addresses, and a future that runs until a stop signal and the
/// drain are done.
pub struct Started {
    pub proxy_addrs: Vec<std::net::SocketAddr>,
    pub admin_addr: Option<std::net::SocketAddr>,
}

/// Where the admin listener binds and the token its API wants.
pub struct AdminSettings {
    pub address: std::net::SocketAddr,
    pub token: Option<String>,
}

/// Bind everything, start serving, and return the future that waits for signals.
pub async fn start(
    plan: Plan,
    source: ConfigSource,
    admin: Option<AdminSettings>,
) -> anyhow::Result<(Started, impl std::future::Future<Output = anyhow::Result<()>>)> {
    for warning in plan.warnings() {
        tracing::warn!(target: "rampart::config", "{warning}");
    }
    for note in &plan.notes {
        tracing::info!(target: "rampart::config", "{note}");
    }
    let proxy = Proxy::new(plan.runtime()?, crate::incident::wrap(crate::audit::event_sink(&plan)?));
    crate::incident::start(&plan.config);
    // What the shield starts with goes on the record: the configuration's digest, the stages.
    // (Read again for the digest: the plan was built from the same file a moment ago.)
    let detail = format!("loaded at start; stages: {}", plan.stage_names().join(","));
    proxy.events.emit(Event::ConfigReload { at: std::time::SystemTime::now(), ok: true, detail, digest: source.digest() });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut proxy_addrs = Vec::new();
    for settings in plan.listeners() {
        let listener = listen(settings.address).with_context(|| format!("cannot listen on {}", settings.address))?;
        let addr = listener.local_addr()?;
        proxy_addrs.push(addr);
        let acceptor = match &settings.tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(t, settings.http2)?)),
            None => None,
        };
        tracing::info!(target: "rampart::run", listener = %addr, tls = acceptor.is_some(), "listening");
        tasks.push(tokio::spawn(rampart_proxy::listener::serve(
            Arc::clone(&proxy),
            listener,
            settings,
            acceptor,
            stop_rx.clone(),
            DRAIN,
        )));
    }
    let shield = Arc::new(Shield {
        proxy: Arc::clone(&proxy),
        source,
        started: Instant::now(),
        listeners: proxy_addrs.iter().map(|a| a.to_string()).collect(),
    });
    let mut admin_addr = None;
    if let Some(admin) = admin {
        let listener =
            TcpListener::bind(admin.address).await.with_context(|| format!("cannot listen on {}", admin.address))?;
        let addr = listener.local_addr()?;
        admin_addr = Some(addr);
        tracing::info!(target: "rampart::run", admin = %addr, "admin listener");
        let mut stop = stop_rx.clone();
        let backend: Arc<dyn rampart_console::AdminBackend> = shield.clone();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.changed().await;
            };
            if let Err(e) = rampart_console::serve(listener, backend, admin.token, shutdown).await {
                tracing::error!(target: "rampart::run", error = %e, "admin listener failed");
            }
        }));
    }
    let started = Started { proxy_addrs, admin_addr };
    let wait = async move {
        wait_for_signals(&shield).await?;
        tracing::info!(target: "rampart::run", "stopping: draining in-flight requests");
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        tracing::info!(target: "rampart::run", "stopped");
        Ok(())
    };
    Ok((started, wait))
}

#[cfg(unix)]
async fn wait_for_signals(shield: &Arc<Shield>) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = hup.recv() => {
                tracing::info!(target: "rampart::run", "SIGHUP: reloading configuration");
                let shield = Arc::clone(shield);
                let _ = tokio::task::spawn_blocking(move || shield.reload_now()).await;
            }
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signals(_shield: &Arc<Shield>) -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// Connections the kernel may hold for a proxy listener before it is accepted (capped by
/// `net.core.somaxconn`). A flood opens thousands of connections at once: with the usual 1,024,
/// the accept queue overflows and the kernel drops SYNs — everyone's, staff's included, who
/// then wait the 1 s SYN retransmission before their connection even starts.
const LISTEN_BACKLOG: u32 = 8192;

/// A proxy listener on `addr`, with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as `bind` sets it).
fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
