//! The human-readable report: one self-contained HTML page (inline CSS and SVG, no script, no
//! external resource) with every field the UK NCSC asks for when an incident is reported —
//! who and where, a summary with the impact on services and users, what was done, technical
//! findings, who else was told, next steps — and the audit checkpoint with the command that
//! re-verifies it. Every string that came from traffic or configuration is escaped.

use std::fmt::Write;

use crate::checkpoint::Checkpoint;
use crate::model::{EntryKind, GroupStats, Incident, Status, VectorKind};

/// `&`, `<`, `>`, `"` and `'` as entities.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
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

/// What it was, in a few words: `Layer-7 flood, SQL injection`.
pub fn headline(inc: &Incident) -> String {
    if inc.vectors.is_empty() {
        return if inc.manual { "incident opened by an operator".into() } else { "suspected attack".into() };
    }
    inc.vectors.iter().map(|v| v.kind.label()).collect::<Vec<_>>().join(", ")
}

fn minutes(inc: &Incident) -> f64 {
    crate::stix::last_moment(inc).since(inc.opened_at) as f64 / 60_000.0
}

fn pct(v: Option<f64>) -> String {
    v.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "no requests".into())
}

fn ms(v: Option<f64>) -> String {
    v.map(|m| format!("{m:.1} ms")).unwrap_or_else(|| "-".into())
}

/// A paragraph: what, when, how big, how legitimate users fared.
pub fn summary(inc: &Incident) -> String {
    let s = &inc.scale;
    let state = match inc.status {
        Status::Open => "still open".to_string(),
        Status::Closed => format!("lasted {:.1} minutes", minutes(inc)),
    };
    let staff = &inc.impact.during.priority;
    let staff_line = if staff.requests > 0 {
        format!(
            " Priority users (staff) had {} of their {} requests served ({}), p99 latency {} against {} before.",
            staff.served,
            staff.requests,
            pct(staff.success_rate),
            ms(staff.p99_ms),
            ms(inc.impact.before.priority.p99_ms)
        )
    } else {
        String::new()
    };
    format!(
        "{} against the services behind Rampart, from {} UTC; it {state}. {} requests reached the shield ({} refused; peak {} requests/s) from about {} distinct addresses; {} connections were refused outright. Highest mitigation mode: {}.{staff_line}",
        headline(inc),
        inc.opened_at,
        s.total_requests,
        s.refused_requests,
        s.peak_rps,
        s.distinct_sources,
        s.refused_connections,
        inc.peak_mode,
    )
}

fn stats_row(out: &mut String, who: &str, before: &GroupStats, during: &GroupStats) {
    let _ = write!(
        out,
        "<tr><td>{who}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{} / {}</td></tr>",
        before.requests,
        pct(before.success_rate),
        ms(before.p50_ms),
        ms(before.p99_ms),
        during.requests,
        pct(during.success_rate),
        ms(during.p50_ms),
        ms(during.p99_ms),
    );
}

fn next_steps(inc: &Incident) -> Vec<String> {
    let from = inc.opened_at;
    let to = crate::stix::last_moment(inc);
    let mut steps = vec![format!(
        "Check that no data left during the incident: <code>rampart audit assess --from {from} --to {to}</code>."
    )];
    let has = |k: VectorKind| inc.vectors.iter().any(|v| v.kind == k);
    if has(VectorKind::Flood) {
        steps.push("Review the heaviest source networks below; deny-list those with no legitimate users ([access] deny) and share them with your hosting provider.".into());
    }
    if has(VectorKind::CredentialStuffing) || has(VectorKind::PasswordSpraying) {
        steps.push("Reset the passwords of the accounts targeted, require a second factor for staff, and check logins that succeeded during the incident.".into());
    }
    if inc.vectors.iter().any(|v| {
        !matches!(
            v.kind,
            VectorKind::Flood
                | VectorKind::CredentialStuffing
                | VectorKind::PasswordSpraying
                | VectorKind::Enumeration
                | VectorKind::Exfiltration
        )
    }) {
        steps.push("Have the application's owners review the requests the WAF matched (rule ids below) for a flaw they were aimed at.".into());
    }
    if has(VectorKind::Enumeration) || has(VectorKind::Exfiltration) {
        steps.push("Review the exfiltration guard's budgets and the identities it named; assess whether personal data was disclosed (a data-protection breach report may be due within 72 hours).".into());
    }
    steps.push("Keep this report and its audit checkpoint; send the STIX bundle (<code>rampart report ID --format stix</code>) to your national CSC.".into());
    steps
}

/// The report page. `checkpoint` is the audit log's latest checkpoint and the log's
/// directory, when an audit log is configured.
pub fn render(inc: &Incident, checkpoint: Option<(&Checkpoint, &str)>) -> String {
    let r = &inc.reporter;
    let e = |s: &str| if s.is_empty() { "<em>not configured</em>".to_string() } else { escape(s) };
    let mut h = String::with_capacity(32 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Incident report {id}</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em;color:#222}}\
         table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}}\
         .tlp{{background:#000;color:#ffc000;font-weight:bold;padding:.2em .6em;display:inline-block}}\
         pre{{background:#f4f4f4;padding:.5em;overflow-x:auto}}h2{{border-bottom:1px solid #ddd}}</style></head><body>\n\
         <p class=\"tlp\">{tlp}</p><h1>Incident report {id}</h1>\n<p><strong>{headline}</strong> — {status}</p>\n",
        id = escape(&inc.id),
        tlp = r.tlp.label(),
        headline = escape(&headline(inc)),
        status = if inc.status == Status::Open { "open" } else { "closed" },
    );
    let _ = writeln!(
        h,
        "<h2 id=\"who\">Who and where</h2><table><tr><th>Organisation</th><td>{}</td></tr><tr><th>Contact</th><td>{}</td></tr>\
         <tr><th>Reported by</th><td>{}</td></tr><tr><th>Location / sector</th><td>{}</td></tr>\
         <tr><th>Opened</th><td>{} UTC</td></tr><tr><th>Closed</th><td>{}</td></tr><tr><th>Opened because</th><td>{}</td></tr></table>",
        e(&r.organisation),
        e(&r.contact),
        e(&r.reporter),
        e(&r.location),
        inc.opened_at,
        inc.closed_at.map(|c| format!("{c} UTC")).unwrap_or_else(|| "still open".into()),
        escape(&inc.trigger),
    );
    let _ =
        writeln!(h, "<h2 id=\"summary\">Summary and impact on services and users</h2><p>{}</p>", escape(&summary(inc)));
    h.push_str("<table><tr><th rowspan=\"2\">Legitimate users</th><th colspan=\"3\">before</th><th colspan=\"3\">during</th></tr>\
        <tr><th>requests</th><th>served</th><th>p50 / p99</th><th>requests</th><th>served</th><th>p50 / p99</th></tr>");
    let (b, d) = (&inc.impact.before, &inc.impact.during);
    stats_row(&mut h, "priority classes (staff)", &b.priority, &d.priority);
    stats_row(&mut h, "clearance holders (passed a challenge)", &b.clearance, &d.clearance);
    stats_row(&mut h, "public", &b.public, &d.public);
    h.push_str("</table>\n<figure>");
    h.push_str(&crate::svg::traffic(&inc.series));
    h.push_str(
        "<figcaption>Requests per second through the incident, and the mitigation mode.</figcaption></figure>\n",
    );

    h.push_str("<h2 id=\"done\">What was done</h2><table><tr><th>stage</th><th>action</th><th>requests / connections</th></tr>");
    for m in &inc.mitigations {
        let detect = if m.detect_only { " (detect only)" } else { "" };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}{detect}</td><td>{}</td></tr>",
            escape(&m.stage),
            escape(&m.action),
            m.count
        );
    }
    h.push_str("</table><ul>");
    for t in inc.timeline.iter().filter(|t| t.kind == EntryKind::Mitigation) {
        let _ = write!(h, "<li>{} — {}</li>", t.at, escape(&t.text));
    }
    h.push_str("</ul>\n");

    h.push_str("<h2 id=\"findings\">Technical findings</h2><h3>Attack vectors</h3><table><tr><th>vector</th><th>CAPEC</th><th>events</th><th>first / last seen</th><th>details</th></tr>");
    for v in &inc.vectors {
        let (capec, name) = v.kind.capec();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{capec} ({})</td><td>{}</td><td>{}<br>{}</td><td>{}</td></tr>",
            v.kind.label(),
            escape(name),
            v.count,
            v.first_seen,
            v.last_seen,
            escape(&v.details.join(", "))
        );
    }
    let s = &inc.scale;
    let _ = write!(
        h,
        "</table><h3>Scale</h3><table><tr><th>requests</th><td>{}</td></tr><tr><th>refused requests</th><td>{}</td></tr>\
         <tr><th>refused connections</th><td>{}</td></tr><tr><th>peak</th><td>{} requests/s at {}</td></tr>\
         <tr><th>distinct sources (estimate)</th><td>{}</td></tr><tr><th>bans</th><td>{}</td></tr></table>\
         <h3>Heaviest source networks</h3><table><tr><th>network</th><th>requests and refused connections</th></tr>",
        s.total_requests,
        s.refused_requests,
        s.refused_connections,
        s.peak_rps,
        s.peak_at.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
        s.distinct_sources,
        s.bans,
    );
    for p in &s.top_prefixes {
        let _ = write!(h, "<tr><td>{}</td><td>{} (± {})</td></tr>", escape(&p.prefix), p.count, p.error);
    }
    h.push_str("</table><h3>Timeline</h3><table><tr><th>time (UTC)</th><th>what</th><th></th></tr>");
    for t in &inc.timeline {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", t.at, t.kind.label(), escape(&t.text));
    }
    if inc.timeline_dropped > 0 {
        let _ = write!(h, "<tr><td></td><td>note</td><td>{} further entries not kept</td></tr>", inc.timeline_dropped);
    }
    h.push_str("</table>\n<h2 id=\"told\">Who else was told</h2>");
    if r.notified.is_empty() {
        h.push_str("<p>No one recorded (<code>[incident] notified</code>).</p>");
    } else {
        h.push_str("<ul>");
        for n in &r.notified {
            let _ = write!(h, "<li>{}</li>", escape(n));
        }
        h.push_str("</ul>");
    }
    h.push_str("\n<h2 id=\"next\">Next steps</h2><ol>");
    for step in next_steps(inc) {
        let _ = write!(h, "<li>{step}</li>");
    }
    h.push_str("</ol>\n<h2 id=\"evidence\">Evidence: audit checkpoint</h2>");
    match checkpoint {
        Some((cp, dir)) => {
            let _ = write!(
                h,
                "<p>The audit log's latest signed checkpoint (tree size {}) when this report was made. Keep a copy: it commits to every audit record up to it.</p>\
                 <pre id=\"checkpoint\">{}</pre><p>To re-verify the log against it (save the text above as <code>checkpoint.txt</code>):</p>\
                 <pre id=\"verify\">rampart audit verify {} --checkpoint checkpoint.txt</pre><p>(the copy on the shield: <code>{}</code>)</p>",
                cp.size,
                escape(&cp.text),
                escape(dir),
                escape(&cp.path.display().to_string()),
            );
        }
        None => h.push_str(
            "<p>No audit checkpoint: <code>[audit]</code> is not configured, or its log has no checkpoint yet.</p>",
        ),
    }
    h.push_str("\n<p><small>Made by Rampart from the incident record ");
    h.push_str(&escape(&inc.id));
    h.push_str(".json.</small></p></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Point, Series};
    use crate::Timestamp;

    #[test]
    fn attacker_strings_are_escaped() {
        let tracker = crate::Tracker::new(crate::Settings::default());
        tracker.open_manual("<img src=x onerror=alert(1)>");
        let mut inc = tracker.current().unwrap();
        inc.series = Series { start: Timestamp(0), step_secs: 1, points: vec![Point::default()] };
        inc.reporter.organisation = "Campaign & Co <b>".into();
        let html = render(&inc, None);
        assert!(!html.contains("<img"), "unescaped");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("Campaign &amp; Co &lt;b&gt;"));
        assert!(!html.contains("http://") && !html.contains("https://"), "no external resource");
        for section in ["who", "summary", "done", "findings", "told", "next", "evidence"] {
            assert!(html.contains(&format!("id=\"{section}\"")), "{section}");
        }
    }
}
