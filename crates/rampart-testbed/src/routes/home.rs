//! `GET /`: what this app is, with a search box. Public.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use crate::app::Shared;
use crate::{html, respond};

/// The home page, as HTML or JSON.
pub(crate) async fn show(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let user = app.user(&headers);
    if respond::wants_json(&headers) {
        return Json(json!({
            "app": "campaign-contacts",
            "contacts": app.contacts,
            "signed_in_as": user.map(|a| a.username),
            "login_required": app.require_login,
        }))
        .into_response();
    }
    let body = format!(
        "<h1>Campaign Contacts</h1>\
         <p>The canvassing team's contact list: {} contacts across the constituency's wards.</p>\
         <form action=\"/contacts\" method=\"get\"><input name=\"q\" placeholder=\"Name, email, postcode or ward\" autofocus>\
         <button>Search</button></form>\
         <p>{}</p>",
        app.contacts,
        if user.is_some() {
            "<a href=\"/export.csv\">Download the full list (CSV)</a>"
        } else if app.require_login {
            "Staff: <a href=\"/login\">log in</a> to search and export."
        } else {
            "<a href=\"/contacts\">Browse contacts</a>"
        }
    );
    html::page("Home", user.as_ref(), &body).into_response()
}
