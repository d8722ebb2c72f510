//! `GET/POST /login` and `/logout`.
//!
//! `POST /login` takes the form fields `username` and `password`. Success:
//! `303 See Other` to `/contacts` with a `session` cookie. Failure: `200` with
//! the form again and "invalid username or password", as most web apps answer
//! a form (and as tools like `hydra` expect: they take a 401 for HTTP
//! authentication); `401` with JSON `{"error": …}` when the client accepts
//! JSON. Both failures look the same whether or not the username exists.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::json;

use crate::accounts;
use crate::app::Shared;
use crate::session::{self, SessionKey};
use crate::{html, respond};

/// The message for any failed login.
pub(crate) const INVALID: &str = "invalid username or password";

/// The login form's fields; missing fields are empty (and fail to log in).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// The form, with `username` pre-filled (escaped) and an optional error.
pub(crate) fn form_html(username: &str, error: Option<&str>) -> String {
    let error = error.map(|e| format!("<p class=\"error\">{}</p>", html::escape(e))).unwrap_or_default();
    format!(
        "{error}<form method=\"post\" action=\"/login\">\
         <p><label>Email <input name=\"username\" type=\"email\" value=\"{}\" required></label></p>\
         <p><label>Password <input name=\"password\" type=\"password\" required></label></p>\
         <p><button>Log in</button></p></form>",
        html::escape(username)
    )
}

/// `GET /login`.
pub(crate) async fn show(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let user = app.user(&headers);
    let body = format!("<h1>Log in</h1>{}", form_html("", None));
    html::page("Log in", user.as_ref(), &body).into_response()
}

/// `POST /login`.
pub(crate) async fn submit(State(app): State<Shared>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let LoginForm { username, password } = form;
    // PBKDF2 is deliberate CPU work: keep it off the async workers.
    let checked_name = username.clone();
    let account = tokio::task::spawn_blocking(move || accounts::verify(&checked_name, &password))
        .await
        .ok()
        .flatten();
    match account {
        Some(account) => {
            // The role, not the name: logs are no place for user names.
            tracing::debug!(role = account.role, "testbed login");
            let mut response = Redirect::to("/contacts").into_response();
            session::set_cookie(response.headers_mut(), app.sessions.issue(&account));
            response
        }
        None if respond::wants_json(&headers) => {
            (StatusCode::UNAUTHORIZED, Json(json!({ "error": INVALID }))).into_response()
        }
        None => {
            let body = format!("<h1>Log in</h1>{}", form_html(&username, Some(INVALID)));
            (StatusCode::OK, html::page("Log in", None, &body)).into_response()
        }
    }
}

/// `GET` or `POST /logout`: clears the cookie and goes home.
pub(crate) async fn logout() -> Response {
    let mut response = Redirect::to("/").into_response();
    session::set_cookie(response.headers_mut(), SessionKey::clear());
    response
}
