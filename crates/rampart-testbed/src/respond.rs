//! Responses shared by several pages: content negotiation, 401, 404, 500.

use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use crate::app::App;
use crate::db::DbError;
use crate::html;
use crate::routes::login;

/// True when the client asked for JSON (`Accept: application/json`).
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

/// 401 for a page that needs a session: the login form, or a JSON error.
pub(crate) fn unauthorized(json: bool) -> Response {
    if json {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "login required" }))).into_response();
    }
    let body = format!("<h1>Log in</h1><p class=\"error\">Please log in to see contacts.</p>{}", login::form_html("", None));
    (StatusCode::UNAUTHORIZED, html::page("Log in", None, &body)).into_response()
}

/// 404 as HTML or JSON.
pub(crate) fn not_found(json: bool) -> Response {
    if json {
        return (StatusCode::NOT_FOUND, Json(json!({ "error": "not found" }))).into_response();
    }
    let body = "<h1>Not found</h1><p>There is nothing here. <a href=\"/contacts\">Back to contacts</a></p>";
    (StatusCode::NOT_FOUND, html::page("Not found", None, body)).into_response()
}

/// 500 for a failed query. Vulnerable mode shows SQLite's message, as a
/// careless app would: error-based SQL injection drills rely on it. Safe mode
/// logs it and says nothing about it.
pub(crate) fn db_failure(app: &App, json: bool, err: DbError) -> Response {
    let detail = if app.vulnerable {
        format!("database error: {err}")
    } else {
        tracing::warn!(error = %err, "testbed query failed");
        "internal error".to_owned()
    };
    if json {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": detail }))).into_response();
    }
    let body = format!("<h1>Something went wrong</h1><p class=\"error\">{}</p>", html::escape(&detail));
    (StatusCode::INTERNAL_SERVER_ERROR, html::page("Error", None, &body)).into_response()
}

/// Percent-encodes `s` for a query-string value.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encode_escapes_reserved() {
        assert_eq!(url_encode("a b&c=d'"), "a%20b%26c%3Dd%27");
        assert_eq!(url_encode("é"), "%C3%A9");
    }
}
