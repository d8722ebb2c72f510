//! Server-rendered HTML: escaping, the shared page layout and stylesheet.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};

use crate::accounts::Account;

/// Escapes `s` for HTML text and double-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: header with the signed-in user (if any), `body`, footer.
/// `body` is inserted as is: callers escape what they put in it.
pub(crate) fn page(title: &str, user: Option<&Account>, body: &str) -> Html<String> {
    let who = match user {
        Some(a) => format!(
            "<span>{} ({})</span> <form method=\"post\" action=\"/logout\"><button>Log out</button></form>",
            escape(a.username),
            escape(a.role)
        ),
        None => "<a href=\"/login\">Log in</a>".to_owned(),
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Campaign Contacts</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\
         <body><header><a class=\"brand\" href=\"/\">Campaign Contacts</a>\
         <nav><a href=\"/contacts\">Contacts</a> <a href=\"/export.csv\">Export</a></nav>\
         <div class=\"who\">{who}</div></header>\n<main>{body}</main>\n\
         <footer>Synthetic data for Rampart drills. No real person is listed here.</footer></body></html>\n",
        title = escape(title),
    ))
}

/// The shared stylesheet, served at `/style.css`.
pub(crate) async fn stylesheet() -> Response {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")],
        STYLE,
    )
        .into_response()
}

const STYLE: &str = "\
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#243b6b;color:#fff}
header a{color:#fff;text-decoration:none}nav a{margin-right:1em}.brand{font-weight:700}.who{margin-left:auto}
header form{display:inline}main{max-width:60em;margin:1.5em auto;padding:0 1em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #dde1e7}
input,button{font:inherit;padding:.3em .6em}.error{color:#a3172b;font-weight:600}
.pager{display:flex;gap:1em;margin:1em 0}dl{display:grid;grid-template-columns:10em 1fr}
footer{text-align:center;color:#667;font-size:.85em;margin:2em 0}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape("<script>alert('x')</script>"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        assert_eq!(escape("a \"b\" & c"), "a &quot;b&quot; &amp; c");
    }
}
