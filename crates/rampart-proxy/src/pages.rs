//! The pages we answer with when we refuse a request: 400/403/413/429/431/502/503/504, in HTML
//! or JSON as the client's `Accept` prefers, each naming the request id an operator can search
//! for. Never an upstream's details.

use std::time::Duration;

use http::header::{CACHE_CONTROL, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::body::{full, ProxyBody};

/// Whether the client prefers JSON (an API client) to HTML (a person).
pub fn wants_json(headers: &HeaderMap) -> bool {
    accepts_json(headers.get(http::header::ACCEPT))
}

/// [`wants_json`] from the `Accept` value alone: asked only when a page is made, not for every
/// request (two substring searches).
pub fn accepts_json(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.map(|v| v.as_bytes()).filter(|a| !a.is_empty()) else {
        return false;
    };
    let json = memchr::memmem::find(accept, b"application/json");
    let html = memchr::memmem::find(accept, b"text/html");
    match (json, html) {
        (Some(_), None) => true,
        (Some(j), Some(h)) => j < h,
        _ => false,
    }
}

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        403 => "Access denied",
        404 => "Not found",
        408 => "Request timeout",
        413 => "Request too large",
        414 => "Request line too long",
        429 => "Too many requests",
        431 => "Request headers too large",
        502 => "Bad gateway",
        503 => "Service unavailable",
        504 => "Gateway timeout",
        _ => "Request refused",
    }
}

fn explanation(status: StatusCode) -> &'static str {
    match status.as_u16() {
        403 => "This request was blocked by the site's security shield.",
        429 => "You are sending requests faster than this site allows. Please wait and try again.",
        503 => "The site is busy or temporarily unavailable. Please try again shortly.",
        502 | 504 => "The site could not be reached just now. Please try again shortly.",
        _ => "The request could not be processed.",
    }
}

/// Build a refusal page. `close` asks the client to close the connection (framing errors).
pub fn refusal(
    status: StatusCode,
    request_id: &str,
    json: bool,
    retry_after: Option<Duration>,
    close: bool,
) -> Response<ProxyBody> {
    let body = if json {
        serde_json::json!({
            "error": title(status),
            "status": status.as_u16(),
            "request_id": request_id,
            "retry_after": retry_after.map(|d| d.as_secs().max(1)),
        })
        .to_string()
    } else {
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code} {title}</title>\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}\
code{{background:#eee;padding:.1rem .3rem}}</style></head><body><h1>{title}</h1><p>{text}</p>\
<p>If you think this is a mistake, contact the site's operators and quote request id <code>{id}</code>.</p>\
</body></html>",
            code = status.as_u16(),
            title = title(status),
            text = explanation(status),
            id = html_escape(request_id),
        )
    };
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(if json { "application/json" } else { "text/html; charset=utf-8" }),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(crate::forward::X_REQUEST_ID, v);
    }
    if let Some(d) = retry_after {
        h.insert(RETRY_AFTER, HeaderValue::from(d.as_secs().max(1)));
    }
    if close {
        h.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '&' => "&amp;".into(),
            '"' => "&quot;".into(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_format() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h));
        h.insert("accept", "application/json".parse().unwrap());
        assert!(wants_json(&h));
        h.insert("accept", "text/html,application/json;q=0.9".parse().unwrap());
        assert!(!wants_json(&h));
    }

    #[test]
    fn throttle_page_has_retry_after_and_request_id() {
        let r = refusal(StatusCode::TOO_MANY_REQUESTS, "r-1", true, Some(Duration::from_secs(3)), false);
        assert_eq!(r.headers()["retry-after"], "3");
        assert_eq!(r.headers()["x-request-id"], "r-1");
    }
}
