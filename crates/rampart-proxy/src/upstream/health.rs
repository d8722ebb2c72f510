//! Active health checks: a GET of the configured path on each server, every interval.

use std::sync::Arc;
use std::time::Duration;

use http::Request;

use super::Pool;
use crate::body::full;

/// Start one checker task per server of `pool`; they end when `shutdown` fires.
pub fn spawn_health_checks(pool: Arc<Pool>, shutdown: tokio::sync::watch::Receiver<bool>) {
    let Some(health) = pool.settings.health.clone() else { return };
    for server in pool.servers.clone() {
        let pool = Arc::clone(&pool);
        let health = health.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut ok_streak = 0u32;
            let mut fail_streak = 0u32;
            let mut ticker = tokio::time::interval(health.interval);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = shutdown.changed() => return,
                }
                let ok = probe(&pool, server.addr, &health.path, health.timeout).await;
                if ok {
                    ok_streak += 1;
                    fail_streak = 0;
                    if !server.is_healthy() && ok_streak >= health.healthy_threshold {
                        tracing::info!(upstream = %pool.settings.name, server = %server.addr, "upstream server healthy again");
                        server.set_healthy(true);
                    }
                } else {
                    fail_streak += 1;
                    ok_streak = 0;
                    if server.is_healthy() && fail_streak >= health.unhealthy_threshold {
                        tracing::warn!(upstream = %pool.settings.name, server = %server.addr, "upstream server failed its health checks");
                        server.set_healthy(false);
                    }
                }
            }
        });
    }
}

async fn probe(pool: &Pool, addr: std::net::SocketAddr, path: &str, timeout: Duration) -> bool {
    let Ok(req) = Request::get(format!("http://{addr}{path}"))
        .header("user-agent", "rampart-health-check")
        .body(full(bytes::Bytes::new()))
    else {
        return false;
    };
    match tokio::time::timeout(timeout, pool.send(addr, req, None)).await {
        Ok(Ok(resp)) => resp.status().is_success() || resp.status().is_redirection(),
        _ => false,
    }
}
