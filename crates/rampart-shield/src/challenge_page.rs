//! The interstitial page a challenged browser sees.
//!
//! With JavaScript, the page solves the proof-of-work with WebCrypto (`crypto.subtle.digest`,
//! SHA-256) and posts the answer; the gate answers with the clearance cookie and a redirect
//! back. Without JavaScript (or outside a secure context, where WebCrypto is missing), the
//! `<noscript>` form holds a wait challenge: the visitor presses the button after the stated
//! number of seconds. Both forms post to the same endpoint. The page loads nothing from
//! anywhere: no third party learns who visits.

/// Everything the page needs.
pub struct PageInput<'a> {
    /// The signed proof-of-work challenge.
    pub work: &'a str,
    pub bits: u32,
    /// The signed wait challenge (no-JavaScript path).
    pub wait: &'a str,
    pub wait_seconds: u32,
    /// Where to go back to once cleared (a local path).
    pub back: &'a str,
    pub request_id: &'a str,
    pub endpoint: &'a str,
    /// A short line saying why (shown to the visitor: "unusual traffic").
    pub notice: &'a str,
}

/// Escape text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's HTML.
pub fn render(p: &PageInput<'_>) -> String {
    let work = html_escape(p.work);
    let wait = html_escape(p.wait);
    let back = html_escape(p.back);
    let endpoint = html_escape(p.endpoint);
    let id = html_escape(p.request_id);
    let notice = html_escape(p.notice);
    let wait_form = format!(
        "<form method=\"post\" action=\"{endpoint}\">\n<input type=\"hidden\" name=\"c\" value=\"{wait}\">\n\
<input type=\"hidden\" name=\"r\" value=\"{back}\">\n<button type=\"submit\">Continue to the site</button>\n</form>"
    );
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>Checking your browser</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1d2433;line-height:1.5}}
h1{{font-size:1.5rem}} .box{{border:1px solid #c9d1e0;border-radius:.5rem;padding:1rem 1.25rem;background:#f6f8fc}}
progress{{width:100%;height:1rem}} button{{font-size:1rem;padding:.5rem 1rem}} code{{background:#e8ecf4;padding:.1rem .3rem}}
.muted{{color:#5b6478;font-size:.9rem}}
</style></head>
<body>
<h1>Checking your browser</h1>
<p>{notice} Your browser is doing a short calculation to show it is not an automated tool.
This takes a few seconds and happens once; then you go on to the page you asked for.</p>
<div class="box" id="work" hidden>
<p id="status" role="status" aria-live="polite">Working…</p>
<progress id="progress" max="100"></progress>
</div>
<form id="solve" method="post" action="{endpoint}">
<input type="hidden" name="c" value="{work}">
<input type="hidden" name="n" id="answer" value="">
<input type="hidden" name="r" value="{back}">
</form>
<noscript>
<div class="box">
<p>JavaScript is off. You can still go on: wait {wait_seconds} seconds, then press the button.</p>
{wait_form}
</div>
</noscript>
<div class="box" id="fallback" hidden>
<p>Your browser cannot run the check here. Wait {wait_seconds} seconds, then press the button.</p>
{wait_form}
</div>
<p class="muted">Request id <code>{id}</code>: quote it if you contact the site's operators.</p>
<script>
(async function () {{
  var bits = {bits};
  var challenge = "{work}";
  if (!(window.crypto && crypto.subtle && window.TextEncoder)) {{
    document.getElementById("fallback").hidden = false;
    return;
  }}
  document.getElementById("work").hidden = false;
  var enc = new TextEncoder();
  var expected = Math.pow(2, bits);
  function zeros(h) {{
    var n = 0;
    for (var i = 0; i < h.length; i++) {{
      if (h[i] === 0) {{ n += 8; continue; }}
      return n + Math.clz32(h[i]) - 24;
    }}
    return n;
  }}
  for (var n = 0; ; n++) {{
    var h = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(challenge + ":" + n)));
    if (zeros(h) >= bits) {{
      document.getElementById("answer").value = String(n);
      document.getElementById("status").textContent = "Done. Taking you to the site…";
      document.getElementById("progress").value = 100;
      document.getElementById("solve").submit();
      return;
    }}
    if (n % 512 === 0) {{
      document.getElementById("progress").value = Math.min(95, 100 * n / (2 * expected));
    }}
  }}
}})();
</script>
</body></html>
"#,
        wait_seconds = p.wait_seconds,
        bits = p.bits,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_what_it_embeds() {
        let page = render(&PageInput {
            work: "c1.1.12.ab.cd.mac",
            bits: 12,
            wait: "w1.1.5.ab.cd.mac",
            wait_seconds: 5,
            back: "/search?q=\"><script>alert(1)</script>",
            request_id: "r-1",
            endpoint: "/.rampart/challenge",
            notice: "Unusual traffic.",
        });
        assert!(!page.contains("<script>alert(1)"));
        assert!(page.contains("&quot;&gt;&lt;script&gt;"));
        assert!(page.contains("var bits = 12;"));
        assert!(page.contains("<noscript>"));
    }
}
