//! The admin listener: `/healthz`, `/readyz`, `/metrics`, and the admin API under `/api/`.
//!
//! It binds loopback by default (the configuration refuses anything else unless told), and every
//! `/api/` call needs `Authorization: Bearer <token>`: reading state tells an attacker what we
//! see, changing it (reload, bans) is control of the shield. Without a configured token the API
//! answers 403 to everything; health, readiness and metrics stay open for probes and scrapers.

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;

/// What the admin listener asks of the running shield.
pub trait AdminBackend: Send + Sync + 'static {
    /// Prometheus text exposition.
    fn metrics(&self) -> String;
    /// `Ok` when the shield can serve (every route's pool has a usable server); the reason
    /// otherwise.
    fn ready(&self) -> Result<(), String>;
    /// Re-read the configuration and swap it in; `Err` carries every error, and the running
    /// configuration stays.
    fn reload(&self) -> Result<String, String>;
    /// A JSON summary: version, uptime, listeners, upstream health, open connections.
    fn status(&self) -> serde_json::Value;
    /// The mitigation mode: what the detector says, the operator's pin, the mode in force.
    fn mode(&self) -> serde_json::Value {
        serde_json::json!({"error": "no flood defence in this build"})
    }
    /// Pin the mode (`"normal"`, `"elevated"`, `"under_attack"`) for `for_secs` (or until
    /// released), or release the pin (`"auto"`).
    fn set_mode(&self, _mode: &str, _for_secs: Option<u64>) -> Result<serde_json::Value, String> {
        Err("no flood defence in this build".into())
    }
}

struct AppState {
    backend: Arc<dyn AdminBackend>,
    token: Option<String>,
}

/// The admin router, for serving or for tests.
pub fn router(backend: Arc<dyn AdminBackend>, token: Option<String>) -> Router {
    let state = Arc::new(AppState { backend, token });
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .route("/api/reload", post(reload))
        .route("/api/mode", get(mode).post(set_mode))
        .with_state(state)
}

/// Serve the admin API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    backend: Arc<dyn AdminBackend>,
    token: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(backend, token)).with_graceful_shutdown(shutdown).await
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    match s.backend.ready() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")).into_response(),
    }
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    ([("content-type", "text/plain; version=0.0.4")], s.backend.metrics()).into_response()
}

/// Compare without leaking, through timing, how much of the token a guess got right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorize(s: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let Some(token) = &s.token else {
        return Err((StatusCode::FORBIDDEN, Json(serde_json::json!({"error": "no admin token configured"}))).into_response());
    };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err((StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "missing or wrong bearer token"}))).into_response())
    }
}

async fn status(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    Json(s.backend.status()).into_response()
}

async fn reload(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    let backend = Arc::clone(&s.backend);
    let result = tokio::task::spawn_blocking(move || backend.reload()).await;
    match result {
        Ok(Ok(detail)) => {
            tracing::info!(target: "rampart::admin", action = "reload", ok = true, "configuration reloaded through the admin API");
            (StatusCode::OK, Json(serde_json::json!({"reloaded": true, "detail": detail}))).into_response()
        }
        Ok(Err(errors)) => {
            tracing::warn!(target: "rampart::admin", action = "reload", ok = false, "reload refused: {errors}");
            (StatusCode::UNPROCESSABLE_ENTITY, Json(serde_json::json!({"reloaded": false, "errors": errors})))
                .into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": e.to_string()}))).into_response(),
    }
}

async fn mode(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    Json(s.backend.mode()).into_response()
}

/// `POST /api/mode` with `{"mode": "under_attack", "for_secs": 600}` or `{"mode": "auto"}`.
async fn set_mode(State(s): State<Arc<AppState>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    let req: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": format!("expected JSON: {e}")}))).into_response(),
    };
    let Some(mode) = req.get("mode").and_then(|m| m.as_str()) else {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "`mode` is required: normal, elevated, under_attack or auto"}))).into_response();
    };
    let for_secs = req.get("for_secs").and_then(|v| v.as_u64());
    match s.backend.set_mode(mode, for_secs) {
        Ok(v) => {
            tracing::warn!(target: "rampart::admin", action = "set_mode", mode, for_secs, "mitigation mode set through the admin API");
            Json(v).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": e}))).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;

    impl AdminBackend for Fake {
        fn metrics(&self) -> String {
            "rampart_up 1\n".into()
        }
        fn ready(&self) -> Result<(), String> {
            Err("upstream app has no healthy server".into())
        }
        fn reload(&self) -> Result<String, String> {
            Err("rampart.toml:3:1: unknown key `burts`".into())
        }
        fn status(&self) -> serde_json::Value {
            serde_json::json!({"ok": true})
        }
    }

    async fn start(token: Option<&str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token = token.map(str::to_string);
        tokio::spawn(serve(listener, Arc::new(Fake), token, std::future::pending()));
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn probes_are_open_and_the_api_needs_the_token() {
        let base = start(Some("s3cret")).await;
        let c = reqwest::Client::new();
        assert_eq!(c.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
        assert_eq!(c.get(format!("{base}/readyz")).send().await.unwrap().status(), 503);
        assert!(c.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap().contains("rampart_up"));
        assert_eq!(c.get(format!("{base}/api/status")).send().await.unwrap().status(), 401);
        let wrong = c.post(format!("{base}/api/reload")).bearer_auth("nope").send().await.unwrap();
        assert_eq!(wrong.status(), 401);
        let refused = c.post(format!("{base}/api/reload")).bearer_auth("s3cret").send().await.unwrap();
        assert_eq!(refused.status(), 422);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert!(body["errors"].as_str().unwrap().contains("burts"));
    }

    #[tokio::test]
    async fn without_a_token_the_api_is_closed() {
        let base = start(None).await;
        let resp = reqwest::Client::new().post(format!("{base}/api/reload")).send().await.unwrap();
        assert_eq!(resp.status(), 403);
    }
}
