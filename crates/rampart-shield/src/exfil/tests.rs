use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderMap, Method, StatusCode};
use rampart_core::{RequestContext, ResponseFacts, Stage, Verdict};
use rampart_state::ManualClock;

use super::*;
use crate::exfil_settings::{EnumerationSettings, ExfilBudget, RecordCount};
use crate::login::tests::Events;

fn budget(records: Option<u32>, requests: Option<u32>) -> ExfilBudget {
    ExfilBudget { requests, records, bytes: None, per: Duration::from_secs(600) }
}

fn walk() -> EnumerationSettings {
    EnumerationSettings { prefix: "/contacts/".into(), suffix: String::new(), max_ids: 100, max_steps: 10, max_steps_all: 20, per: Duration::from_secs(600) }
}

fn guard(entries: Vec<ExfilSettings>) -> (ExfiltrationGuard, Arc<ManualClock>, Arc<Events>) {
    let clock = Arc::new(ManualClock::new());
    let events = Arc::new(Events::default());
    let entries = entries.into_iter().map(|mut e| { e.memory_bytes = 1 << 20; e }).collect();
    (ExfiltrationGuard::new(entries, clock.clone()).unwrap().with_events(events.clone()), clock, events)
}

/// One GET through every phase; the app answers `body` as JSON. The first disruptive verdict.
fn get(g: &ExfiltrationGuard, path: &str, client: &str, body: &str, tweak: impl FnOnce(&mut RequestContext)) -> Verdict {
    let mut ctx = RequestContext::for_test(Method::GET, path, client.parse::<IpAddr>().unwrap());
    tweak(&mut ctx);
    let v = g.on_request_headers(&mut ctx).unwrap();
    if v.is_disruptive() {
        return v;
    }
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    let resp = ResponseFacts { status: StatusCode::OK, headers };
    let v = g.on_response_headers(&mut ctx, &resp).unwrap();
    if v.is_disruptive() || !g.wants_response_body_of(&ctx) {
        return v;
    }
    g.on_response_body(&mut ctx, &resp, body.as_bytes()).unwrap()
}

fn public(_: &mut RequestContext) {}

fn staff(ctx: &mut RequestContext) {
    ctx.identity.class = Arc::from("staff");
    ctx.identity.subject = Some(Arc::from("staff@campaign.example"));
}

fn staff_then_client(records_staff: u32, records_public: u32) -> Vec<ExfilSettings> {
    let mut s = ExfilSettings::new("/contacts", budget(Some(records_staff), None));
    s.identity = vec![IdentitySource::Class("staff".into())];
    let mut p = ExfilSettings::new("/contacts", budget(Some(records_public), None));
    p.enumeration = Some(walk());
    vec![s, p]
}

#[test]
fn staff_and_the_public_have_their_own_budgets() {
    let (g, clock, events) = guard(staff_then_client(20_000, 100));
    let page = format!("[{}]", vec!["{}"; 50].join(","));
    assert_eq!(get(&g, "/contacts?page=1", "203.0.113.5", &page, public), Verdict::Continue);
    assert_eq!(get(&g, "/contacts?page=2", "203.0.113.5", &page, public), Verdict::Continue);
    assert_eq!(get(&g, "/contacts?page=3", "203.0.113.5", &page, public), Verdict::forbidden("data budget exceeded"));
    assert_eq!(get(&g, "/contacts?page=4", "203.0.113.5", "[]", public), Verdict::forbidden("data budget exceeded"));
    // Asking for more than the budget once is reported once; the next ask is refused quietly.
    let export = format!("[{}]", vec!["{}"; 5000].join(","));
    assert!(get(&g, "/contacts/export", "203.0.113.6", &export, public).is_disruptive());
    assert!(get(&g, "/contacts/export", "203.0.113.6", &export, public).is_disruptive());
    assert!(get(&g, "/contacts?page=1", "203.0.113.6", "[]", public).is_disruptive());
    assert_eq!(events.0.lock().unwrap().iter().filter(|e| e.1 == "client:203.0.113.6").count(), 1);
    events.0.lock().unwrap().retain(|e| e.1 != "client:203.0.113.6");
    // The same address logged in as staff exports everything.
    assert_eq!(get(&g, "/contacts/export", "203.0.113.5", &export, staff), Verdict::Continue);
    let ev = events.0.lock().unwrap().clone();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0].0.as_str(), ev[0].1.as_str()), ("budget_records", "client:203.0.113.5"));
    assert!(ev[0].2.contains("100 records"), "{ev:?}");
    // A staff network member without a session has the staff budget too, per address.
    let network = |c: &mut RequestContext| c.identity.class = Arc::from("staff");
    assert_eq!(get(&g, "/contacts/export", "198.51.100.9", &export, network), Verdict::Continue);
    // The window slides.
    clock.advance(Duration::from_secs(1201));
    assert_eq!(get(&g, "/contacts?page=5", "203.0.113.5", &page, public), Verdict::Continue);
    // Other routes are not counted.
    assert_eq!(get(&g, "/contactsX", "203.0.113.5", &export, public), Verdict::Continue);
}

#[test]
fn one_source_walking_ids_is_stopped() {
    let (g, _, events) = guard(staff_then_client(20_000, 100_000));
    let verdicts: Vec<_> = (1..=15).map(|id| get(&g, &format!("/contacts/{id}"), "203.0.113.5", "{}", public)).collect();
    let first = verdicts.iter().position(Verdict::is_disruptive).unwrap();
    assert_eq!(first, 10, "{verdicts:?}");
    assert!(verdicts[first..].iter().all(Verdict::is_disruptive));
    assert_eq!(events.0.lock().unwrap()[0].0, "enumeration");
    // Someone else browsing is not affected.
    assert_eq!(get(&g, "/contacts/4000", "198.51.100.7", "{}", public), Verdict::Continue);
}

#[test]
fn a_walk_split_over_many_sources_locks_the_public_out_but_not_staff() {
    let (g, clock, events) = guard(staff_then_client(20_000, 100_000));
    let mut served = 0;
    for id in 1..=5000u32 {
        let client = format!("10.{}.{}.1", id / 250, id % 250);
        if !get(&g, &format!("/contacts/{id}"), &client, "{}", public).is_disruptive() {
            served += 1;
        }
    }
    assert!(served <= 21, "{served} records served");
    let ev = events.0.lock().unwrap().clone();
    assert_eq!((ev.len(), ev[0].0.as_str(), ev[0].1.as_str()), (1, "enumeration_distributed", "*"));
    assert_eq!(get(&g, "/contacts/77", "192.0.2.9", "{}", staff), Verdict::Continue);
    clock.advance(Duration::from_secs(601));
    assert_eq!(get(&g, "/contacts/4999", "192.0.2.10", "{}", public), Verdict::Continue);
}

#[test]
fn never_leave_patterns_withhold_the_response_for_anyone() {
    let mut e = ExfilSettings::new("/api", budget(Some(1000), None));
    e.never_leave = vec![regex::bytes::Regex::new(r"\$2[aby]\$\d\d\$").unwrap()];
    let (g, _, events) = guard(vec![e]);
    let leak = get(&g, "/api/users", "192.0.2.1", r#"[{"hash":"$2b$12$abcdefghijkl"}]"#, staff);
    assert!(matches!(leak, Verdict::Block { status: 502, .. }), "{leak:?}");
    assert_eq!(events.0.lock().unwrap()[0].0, "never_leave");
    assert_eq!(get(&g, "/api/users", "192.0.2.1", "[]", public), Verdict::Continue);
}

#[test]
fn identities_and_request_budgets() {
    let mut e = ExfilSettings::new("/", budget(None, Some(3)));
    e.identity = vec![IdentitySource::Cookie("session".into()), IdentitySource::Header("x-api-key".parse().unwrap()), IdentitySource::Prefix];
    e.action = ExfilAction::Throttle;
    e.records_from = RecordCount::Json;
    let (g, _, events) = guard(vec![e]);
    let cookie = |c: &mut RequestContext| {
        c.headers.insert("cookie", "session=secret-value".parse().unwrap());
    };
    let v: Vec<_> = (0..5).map(|_| get(&g, "/x", "192.0.2.1", "[]", cookie).kind()).collect();
    assert_eq!(v, ["continue", "continue", "continue", "throttle", "throttle"]);
    // The next client in the same /24 without the cookie is judged by its prefix.
    assert_eq!(get(&g, "/x", "192.0.2.2", "[]", public), Verdict::Continue);
    let ev = events.0.lock().unwrap().clone();
    assert_eq!(ev.len(), 1);
    assert!(ev[0].1.starts_with("cookie:session#") && !ev[0].1.contains("secret"), "{ev:?}");
    assert!(!g.wants_response_body());
}
