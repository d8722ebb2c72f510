//! `GET /contacts?q=…&page=N` (search, 50 a page) and `GET /contacts/{id}`.
//!
//! An HTML search page says how many records it holds in `X-Record-Count`.
//!
//! In vulnerable mode the search is injectable (see `db::search`) and the
//! "Results for …" heading reflects `q` without escaping. Everything else,
//! in both modes, is escaped.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::json;

use crate::app::Shared;
use crate::db::{self, SearchResult, Window, PAGE_SIZE};
use crate::seed::Contact;
use crate::{html, respond};

/// Query parameters of the search pages. Both are optional and lenient: a
/// missing or unparsable `page` means page 1.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SearchParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub page: String,
}

impl SearchParams {
    /// The 1-based page asked for.
    pub fn page(&self) -> u32 {
        self.page.trim().parse::<u32>().ok().filter(|p| *p >= 1).unwrap_or(1)
    }
}

/// Runs the search for `params` in the app's mode.
pub(crate) async fn run_search(app: &Shared, q: &str, window: Window) -> Result<SearchResult, db::DbError> {
    let q = q.to_owned();
    let vulnerable = app.vulnerable;
    app.db.run(move |conn| db::search(conn, &q, window, vulnerable)).await
}

/// `GET /contacts`.
pub(crate) async fn search(State(app): State<Shared>, headers: HeaderMap, Query(params): Query<SearchParams>) -> Response {
    let json = respond::wants_json(&headers);
    let page = params.page();
    let result = match run_search(&app, &params.q, Window::Page(page)).await {
        Ok(r) => r,
        Err(e) => return respond::db_failure(&app, json, e),
    };
    if json {
        return Json(json!({
            "q": params.q,
            "page": page,
            "page_size": PAGE_SIZE,
            "total": result.total,
            "contacts": result.contacts,
        }))
        .into_response();
    }
    let user = app.user(&headers);
    let mut response = html::page("Contacts", user.as_ref(), &search_html(&params.q, page, &result, app.vulnerable)).into_response();
    // The page is HTML: say how many records it holds, for a shield that counts them
    // (Rampart's exfiltration budgets read `X-Record-Count`).
    response.headers_mut().insert("x-record-count", result.contacts.len().into());
    response
}

fn search_html(q: &str, page: u32, result: &SearchResult, vulnerable: bool) -> String {
    let mut body = format!(
        "<h1>Contacts</h1><form action=\"/contacts\" method=\"get\">\
         <input name=\"q\" value=\"{}\" placeholder=\"Name, email, postcode or ward\"> <button>Search</button></form>",
        html::escape(q)
    );
    if !q.is_empty() {
        // DELIBERATE reflected XSS in vulnerable mode. Never copy this.
        let shown = if vulnerable { q.to_owned() } else { html::escape(q) };
        body.push_str(&format!("<h2>Results for {shown}</h2>"));
    }
    let total = result.total.map_or_else(|| "Some".to_owned(), |t| t.to_string());
    body.push_str(&format!("<p>{total} contacts match · page {page}</p>"));
    body.push_str("<table><thead><tr><th>Name</th><th>Email</th><th>Postcode</th><th>Ward</th><th>Status</th></tr></thead><tbody>");
    for c in &result.contacts {
        body.push_str(&format!(
            "<tr><td><a href=\"/contacts/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.id,
            html::escape(&c.name),
            html::escape(&c.email),
            html::escape(&c.postcode),
            html::escape(&c.ward),
            html::escape(&c.canvass_status)
        ));
    }
    body.push_str("</tbody></table><div class=\"pager\">");
    let q_enc = respond::url_encode(q);
    if page > 1 {
        body.push_str(&format!("<a rel=\"prev\" href=\"/contacts?q={q_enc}&amp;page={}\">Previous</a>", page - 1));
    }
    let more = match result.total {
        Some(t) => i64::from(page) * i64::from(PAGE_SIZE) < t,
        None => result.contacts.len() == PAGE_SIZE as usize,
    };
    if more {
        body.push_str(&format!("<a rel=\"next\" href=\"/contacts?q={q_enc}&amp;page={}\">Next</a>", page.saturating_add(1)));
    }
    body.push_str(&format!(" <a href=\"/export.csv?q={q_enc}\">Export these (CSV)</a></div>"));
    body
}

/// `GET /contacts/{id}`: one contact, 404 when there is none (or the id is
/// not a number).
pub(crate) async fn show(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let json = respond::wants_json(&headers);
    let Ok(id) = id.parse::<i64>() else {
        return respond::not_found(json);
    };
    let contact = match app.db.run(move |conn| db::contact(conn, id)).await {
        Ok(Some(c)) => c,
        Ok(None) => return respond::not_found(json),
        Err(e) => return respond::db_failure(&app, json, e),
    };
    if json {
        return Json(contact).into_response();
    }
    let user = app.user(&headers);
    html::page(&contact.name, user.as_ref(), &contact_html(&contact)).into_response()
}

fn contact_html(c: &Contact) -> String {
    let row = |label: &str, value: &str| format!("<dt>{label}</dt><dd>{}</dd>", html::escape(value));
    format!(
        "<h1>{}</h1><dl>{}{}{}{}{}{}</dl><p><a href=\"/contacts\">Back to contacts</a></p>",
        html::escape(&c.name),
        row("Email", &c.email),
        row("Phone", &c.phone),
        row("Postcode", &c.postcode),
        row("Ward", &c.ward),
        row("Canvass status", &c.canvass_status),
        row("Notes", &c.notes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parsing_is_lenient() {
        let p = |s: &str| SearchParams { q: String::new(), page: s.to_owned() }.page();
        assert_eq!(p(""), 1);
        assert_eq!(p("0"), 1);
        assert_eq!(p("3"), 3);
        assert_eq!(p("1' OR 1=1"), 1);
        assert_eq!(p("-2"), 1);
    }
}
