//! `GET /api/contacts?q=…&page=N`: a JSON array of contacts, 50 a page, the
//! same search as `/contacts` (so equally injectable in vulnerable mode).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};

use crate::app::Shared;
use crate::db::Window;
use crate::respond;
use crate::routes::contacts::{run_search, SearchParams};

/// The JSON search API.
pub(crate) async fn contacts(State(app): State<Shared>, Query(params): Query<SearchParams>) -> Response {
    match run_search(&app, &params.q, Window::Page(params.page())).await {
        Ok(result) => Json(result.contacts).into_response(),
        Err(e) => respond::db_failure(&app, true, e),
    }
}
