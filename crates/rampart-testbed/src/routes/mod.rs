//! The router: which page answers which path, and the layers around them.
//!
//! Layer order, outermost first, and why:
//! 1. security headers — on every response, including `/healthz` and 404s;
//! 2. the capacity limit — around every page but `/healthz`, so health checks
//!    keep answering while a flood queues behind the permits (a shield's
//!    upstream health check should see "up but saturated", not "down");
//! 3. the session check — only on the contact pages, and only inside the
//!    capacity limit, because a real app spends a worker on rejecting an
//!    unauthenticated request too.

pub(crate) mod api;
pub(crate) mod contacts;
pub(crate) mod export;
pub(crate) mod home;
pub(crate) mod login;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::app::Shared;
use crate::capacity::{self, Capacity};
use crate::html;
use crate::respond;

/// Assembles every page over `app`.
pub(crate) fn router(app: Shared, capacity: Arc<Capacity>) -> Router {
    let mut protected = Router::new()
        .route("/contacts", get(contacts::search))
        .route("/contacts/{id}", get(contacts::show))
        .route("/export.csv", get(export::csv))
        .route("/api/contacts", get(api::contacts));
    if app.require_login {
        protected = protected.route_layer(middleware::from_fn_with_state(Arc::clone(&app), require_session));
    }
    let pages = Router::new()
        .route("/", get(home::show))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", get(login::logout).post(login::logout))
        .route("/style.css", get(html::stylesheet))
        .merge(protected)
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(capacity, capacity::limit));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(pages)
        .layer(middleware::map_response_with_state(Arc::clone(&app), security_headers))
        .with_state(app)
}

/// `GET /healthz`: 200 `ok` while the process serves.
async fn healthz() -> &'static str {
    "ok"
}

async fn fallback(headers: HeaderMap) -> Response {
    respond::not_found(respond::wants_json(&headers))
}

/// Lets the request through only with a valid session cookie.
async fn require_session(State(app): State<Shared>, request: Request, next: Next) -> Response {
    if app.user(request.headers()).is_some() {
        return next.run(request).await;
    }
    let json = respond::wants_json(request.headers()) || request.uri().path().starts_with("/api/");
    respond::unauthorized(json)
}

/// Headers a careful app sends. The vulnerable mode leaves out the CSP so
/// that its reflected XSS really runs in a browser.
async fn security_headers(State(app): State<Shared>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !app.vulnerable {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; form-action 'self'; frame-ancestors 'none'"),
        );
    }
    response
}
