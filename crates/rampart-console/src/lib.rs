//! The admin listener: `/healthz`, `/readyz`, `/metrics`, and the admin API under `/api/`.
//!
//! It binds loopback by default (the configuration refuses anything else unless told), and every
//! `/api/` call needs `Authorization: Bearer <token>`: reading state tells an attacker what we
//! see, changing it (reload, bans) is control of the shield. Without a configured token the API
//! answers 403 to everything; health, readiness and metrics stay open for probes and scrapers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
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
    /// The open incident and the recently closed ones, newest first.
    fn incidents(&self) -> serde_json::Value {
        serde_json::json!([])
    }
    /// Open an incident by hand with `reason` (or note it in the open one): `{"id": ...}`.
    fn open_incident(&self, _reason: &str) -> Result<serde_json::Value, String> {
        Err("no incident tracker in this build".into())
    }
    /// Called once a call that changes the shield (reload, mode) has been answered, or refused
    /// for want of a valid token: for the audit trail. Default: nothing.
    fn audit_call(&self, _call: &AdminCall<'_>) {}
}

/// An admin API call that changes the shield, for [`AdminBackend::audit_call`].
#[derive(Debug, Clone)]
pub struct AdminCall<'a> {
    /// The caller's address (`None` when the router is served without connection info).
    pub peer: Option<SocketAddr>,
    /// The caller held the admin token.
    pub authorized: bool,
    /// `"reload"`, `"set_mode"` or `"open_incident"`.
    pub action: &'static str,
    /// The call did what it asked.
    pub ok: bool,
    /// What it asked and what came of it.
    pub detail: &'a str,
}

/// Report `call` to the backend with the caller's address from `ext`.
fn audit_call(s: &AppState, ext: &Extensions, authorized: bool, action: &'static str, ok: bool, detail: &str) {
    let peer = ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    s.backend.audit_call(&AdminCall { peer, authorized, action, ok, detail });
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
        .route("/api/incidents", get(incidents).post(open_incident))
        .with_state(state)
}

/// Serve the admin API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    backend: Arc<dyn AdminBackend>,
    token: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(backend, token).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
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

async fn reload(State(s): State<Arc<AppState>>, ext: Extensions, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        audit_call(&s, &ext, false, "reload", false, "refused: no valid admin token");
        return r;
    }
    let backend = Arc::clone(&s.backend);
    let result = tokio::task::spawn_blocking(move || backend.reload()).await;
    match &result {
        Ok(Ok(detail)) => audit_call(&s, &ext, true, "reload", true, detail),
        Ok(Err(errors)) => audit_call(&s, &ext, true, "reload", false, errors),
        Err(e) => audit_call(&s, &ext, true, "reload", false, &e.to_string()),
    }
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
async fn set_mode(State(s): State<Arc<AppState>>, ext: Extensions, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        audit_call(&s, &ext, false, "set_mode", false, "refused: no valid admin token");
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
    let asked = match for_secs {
        Some(n) => format!("mode {mode} for {n}s"),
        None => format!("mode {mode}"),
    };
    match s.backend.set_mode(mode, for_secs) {
        Ok(v) => {
            tracing::warn!(target: "rampart::admin", action = "set_mode", mode, for_secs, "mitigation mode set through the admin API");
            audit_call(&s, &ext, true, "set_mode", true, &format!("{asked}: now {}", v["mode"].as_str().unwrap_or("?")));
            Json(v).into_response()
        }
        Err(e) => {
            audit_call(&s, &ext, true, "set_mode", false, &format!("{asked}: {e}"));
            (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": e}))).into_response()
        }
    }
}

async fn incidents(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    Json(s.backend.incidents()).into_response()
}

/// `POST /api/incidents` with `{"reason": "a call from our hosting provider"}`.
async fn open_incident(
    State(s): State<Arc<AppState>>,
    ext: Extensions,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        audit_call(&s, &ext, false, "open_incident", false, "refused: no valid admin token");
        return r;
    }
    let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let Some(reason) = req.get("reason").and_then(|m| m.as_str()).filter(|r| !r.trim().is_empty()) else {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "`reason` is required"}))).into_response();
    };
    match s.backend.open_incident(reason) {
        Ok(v) => {
            let id = v["id"].as_str().unwrap_or("?");
            audit_call(&s, &ext, true, "open_incident", true, &format!("{id}: {reason}"));
            tracing::warn!(target: "rampart::admin", action = "open_incident", reason, "incident opened through the admin API");
            (StatusCode::CREATED, Json(v)).into_response()
        }
        Err(e) => {
            audit_call(&s, &ext, true, "open_incident", false, &e);
            (StatusCode::CONFLICT, Json(serde_json::json!({"error": e}))).into_response()
        }
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

    /// Remembers the admin calls reported to it.
    #[derive(Default)]
    struct Recording(std::sync::Mutex<Vec<String>>);

    impl AdminBackend for Recording {
        fn metrics(&self) -> String {
            String::new()
        }
        fn ready(&self) -> Result<(), String> {
            Ok(())
        }
        fn reload(&self) -> Result<String, String> {
            Ok("stages: waf".into())
        }
        fn status(&self) -> serde_json::Value {
            serde_json::json!({})
        }
        fn audit_call(&self, call: &AdminCall<'_>) {
            let peer = call.peer.map(|p| p.ip().to_string()).unwrap_or_default();
            self.0.lock().unwrap().push(format!("{} {} {} {} {}", call.action, call.authorized, call.ok, peer, call.detail));
        }
    }

    #[tokio::test]
    async fn changes_and_refused_attempts_are_reported_with_the_caller() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let backend = Arc::new(Recording::default());
        tokio::spawn(serve(listener, backend.clone(), Some("t".into()), std::future::pending()));
        let c = reqwest::Client::new();
        assert_eq!(c.post(format!("{base}/api/reload")).bearer_auth("t").send().await.unwrap().status(), 200);
        assert_eq!(c.post(format!("{base}/api/mode")).bearer_auth("x").body("{}").send().await.unwrap().status(), 401);
        let calls = backend.0.lock().unwrap().clone();
        assert_eq!(calls, vec![
            "reload true true 127.0.0.1 stages: waf".to_string(),
            "set_mode false false 127.0.0.1 refused: no valid admin token".to_string(),
        ]);
    }

    #[tokio::test]
    async fn without_a_token_the_api_is_closed() {
        let base = start(None).await;
        let resp = reqwest::Client::new().post(format!("{base}/api/reload")).send().await.unwrap();
        assert_eq!(resp.status(), 403);
    }
}
