//! `GET /export.csv?q=…`: every contact matching `q` as CSV (RFC 4180),
//! header line first, one record per line.
//!
//! This is the exfiltration target of the drills: one request, the whole
//! list. Fields with a comma, quote or line break are quoted.

use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::app::Shared;
use crate::db::Window;
use crate::respond;
use crate::routes::contacts::{run_search, SearchParams};
use crate::seed::Contact;

/// The header line.
pub(crate) const HEADER: &str = "id,name,email,phone,postcode,ward,canvass_status,notes";

/// The CSV export.
pub(crate) async fn csv(State(app): State<Shared>, headers: HeaderMap, Query(params): Query<SearchParams>) -> Response {
    let result = match run_search(&app, &params.q, Window::All).await {
        Ok(r) => r,
        Err(e) => return respond::db_failure(&app, respond::wants_json(&headers), e),
    };
    let mut body = String::with_capacity(100 * (result.contacts.len() + 1));
    body.push_str(HEADER);
    body.push_str("\r\n");
    for c in &result.contacts {
        push_record(&mut body, c);
    }
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"contacts.csv\""),
        ],
        body,
    )
        .into_response()
}

fn push_record(out: &mut String, c: &Contact) {
    out.push_str(&c.id.to_string());
    for field in [&c.name, &c.email, &c.phone, &c.postcode, &c.ward, &c.canvass_status, &c.notes] {
        out.push(',');
        push_field(out, field);
    }
    out.push_str("\r\n");
}

fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        let mut s = String::new();
        push_field(&mut s, "plain");
        s.push('|');
        push_field(&mut s, "a, \"b\"");
        assert_eq!(s, "plain|\"a, \"\"b\"\"\"");
    }
}
