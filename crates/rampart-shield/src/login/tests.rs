use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, Method, StatusCode};
use rampart_core::{Event, EventSink, RequestContext, ResponseFacts, Stage, Verdict};
use rampart_state::ManualClock;

use super::*;

/// Keeps the detection events as (pattern, identity, volume); the exfiltration tests use it too.
#[derive(Default)]
pub(crate) struct Events(pub(crate) Mutex<Vec<(String, String, String)>>);

impl EventSink for Events {
    fn emit(&self, event: Event) {
        if let Event::Detection { pattern, identity, volume, .. } = event {
            self.0.lock().unwrap().push((pattern.to_string(), identity, volume));
        }
    }
}

impl Events {
    pub(crate) fn patterns(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|e| e.0.clone()).collect()
    }
}

fn guard(tweak: impl FnOnce(&mut LoginSettings)) -> (LoginGuard, Arc<ManualClock>, Arc<Events>) {
    let mut s = LoginSettings::new("/login", FailureSignal::Status(401));
    s.memory_bytes = 1 << 20;
    tweak(&mut s);
    let clock = Arc::new(ManualClock::new());
    let events = Arc::new(Events::default());
    let g = LoginGuard::new(s, clock.clone()).unwrap().with_events(events.clone());
    (g, clock, events)
}

/// One login through every phase; the app answers `status`. Returns the first disruptive
/// verdict (the app is not asked then) or `Continue`.
fn attempt(
    g: &LoginGuard,
    client: &str,
    user: &str,
    password: &str,
    status: u16,
    tweak: impl FnOnce(&mut RequestContext),
) -> Verdict {
    let mut ctx = RequestContext::for_test(Method::POST, "/login", client.parse::<IpAddr>().unwrap());
    tweak(&mut ctx);
    let v = g.on_request_headers(&mut ctx).unwrap();
    if v.is_disruptive() {
        return v;
    }
    assert!(g.wants_request_body_of(&ctx));
    let body = format!("username={}&password={}", user.replace('@', "%40"), password);
    let v = g.on_request_body(&mut ctx, body.as_bytes()).unwrap();
    if v.is_disruptive() {
        return v;
    }
    let resp = ResponseFacts { status: StatusCode::from_u16(status).unwrap(), headers: HeaderMap::new() };
    g.on_response_headers(&mut ctx, &resp).unwrap();
    Verdict::Continue
}

fn public(_: &mut RequestContext) {}

fn staff(ctx: &mut RequestContext) {
    ctx.identity.class = Arc::from("staff");
}

#[test]
fn only_the_login_path_is_buffered_or_judged() {
    let (g, _, _) = guard(|_| {});
    let mut ctx = RequestContext::for_test(Method::GET, "/login", "192.0.2.1".parse().unwrap());
    assert!(!g.wants_request_body_of(&ctx));
    assert_eq!(g.on_request_headers(&mut ctx).unwrap(), Verdict::Continue);
    let mut other = RequestContext::for_test(Method::POST, "/contacts", "192.0.2.1".parse().unwrap());
    assert!(!g.wants_request_body_of(&other) && !g.wants_response_body_of(&other));
    assert_eq!(g.on_request_body(&mut other, b"username=a").unwrap(), Verdict::Continue);
}

#[test]
fn one_source_climbs_the_ladder_delay_challenge_block() {
    let (g, clock, events) = guard(|_| {});
    let mut seen = Vec::new();
    for i in 0..40 {
        let v = attempt(&g, "203.0.113.7", &format!("user{i}@example.org"), "123456", 401, public);
        seen.push(v.kind());
    }
    let first = |k: &str| seen.iter().position(|s| *s == k).unwrap();
    assert_eq!((first("throttle"), first("challenge"), first("block")), (5, 10, 20), "{seen:?}");
    assert!(seen[20..].iter().all(|k| *k == "block"));
    assert!(seen[10..20].iter().all(|k| *k == "challenge"), "the prefix's delay must not undo the client's challenge: {seen:?}");
    let p = events.patterns();
    assert_eq!(p, vec!["failed_logins".to_string()]);
    // Temporary: once the client stops, its count slides out of the window.
    clock.advance(Duration::from_secs(21 * 60));
    assert_eq!(attempt(&g, "203.0.113.7", "ann@example.org", "x", 401, public), Verdict::Continue);
}

#[test]
fn staff_and_cleared_clients_are_judged_apart_and_get_in() {
    let (g, _, _) = guard(|_| {});
    for i in 0..30 {
        attempt(&g, "203.0.113.7", &format!("user{i}"), "pw", 401, public);
    }
    assert!(attempt(&g, "203.0.113.7", "staff@campaign.example", "right", 303, public).is_disruptive());
    // The same address with a staff class, or with a clearance token, is not the attacker.
    assert_eq!(attempt(&g, "203.0.113.7", "staff@campaign.example", "right", 303, staff), Verdict::Continue);
    let cleared = |c: &mut RequestContext| c.identity.clearance = Some(Arc::from("tok-1"));
    assert_eq!(attempt(&g, "203.0.113.7", "staff@campaign.example", "right", 303, cleared), Verdict::Continue);
    // A clearance token reused for stuffing is burnt after its own budget.
    let verdicts: Vec<_> =
        (0..12).map(|i| attempt(&g, "198.51.100.1", &format!("u{i}"), "pw", 401, cleared).kind()).collect();
    assert_eq!(verdicts.last(), Some(&"block"), "{verdicts:?}");
}

#[test]
fn a_targeted_user_name_is_challenged_for_the_public_only() {
    let (g, _, events) = guard(|_| {});
    for i in 0..12 {
        let v = attempt(&g, &format!("198.51.{i}.9"), "Staff@Campaign.example", &format!("guess{i}"), 401, public);
        if i < 5 {
            assert_eq!(v, Verdict::Continue, "attempt {i}");
        } else {
            assert!(matches!(v, Verdict::Challenge { .. }), "attempt {i}: {v:?}");
        }
    }
    assert_eq!(attempt(&g, "192.0.2.50", "staff@campaign.example", "right", 303, staff), Verdict::Continue);
    let ev = events.0.lock().unwrap().clone();
    assert!(ev.iter().all(|(_, id, _)| !id.contains("campaign")), "{ev:?}");
}

#[test]
fn one_user_name_from_many_sources_and_spraying_are_named() {
    let (g, _, events) = guard(|s| s.per_username.count = 1000);
    for i in 0..10 {
        attempt(&g, &format!("10.{i}.0.1"), "ann@example.org", &format!("pw{i}"), 401, public);
    }
    let identity = g.key().user("ann@example.org").to_string();
    let ev = events.0.lock().unwrap().clone();
    assert!(ev.iter().any(|(p, id, _)| p == "credential_stuffing_one_username" && *id == identity), "{ev:?}");
    for i in 0..10 {
        attempt(&g, &format!("10.{i}.1.1"), &format!("person{i}@example.org"), "Summer2026!", 401, public);
    }
    assert!(events.patterns().contains(&"password_spraying".to_string()));
    let v = attempt(&g, "10.99.1.1", "newcomer@example.org", "Summer2026!", 401, public);
    assert_eq!(v.reason(), "login: password spraying");
}

#[test]
fn a_distributed_run_turns_on_the_defence_for_the_public() {
    // The default 4 MiB: with 1,000 sources in 1 MiB, an innocent client's count-min estimate
    // is now and then inflated past its first step by collisions.
    let (g, clock, events) = guard(|s| s.memory_bytes = 4 << 20);
    let mut first_refusal = None;
    for i in 0..1000u32 {
        let client = format!("10.{}.{}.1", i / 250, i % 250);
        for a in 0..5 {
            let v =
                attempt(&g, &client, &format!("victim{}@example.org", i * 5 + a), &format!("pw{i}-{a}"), 401, public);
            if v.is_disruptive() && first_refusal.is_none() {
                first_refusal = Some(i * 5 + a);
            }
        }
    }
    let n = first_refusal.expect("refused at some point");
    assert!(n <= 200, "first refusal after {n} attempts");
    let ev = events.0.lock().unwrap().clone();
    let d: Vec<_> = ev.iter().filter(|e| e.0 == "credential_stuffing_distributed").collect();
    assert_eq!(d.len(), 1, "{ev:?}");
    assert_eq!(attempt(&g, "192.0.2.50", "staff@campaign.example", "right", 303, staff), Verdict::Continue);
    // The defence lasts a window past the last attempt.
    clock.advance(Duration::from_secs(61));
    assert_eq!(attempt(&g, "192.0.2.77", "ann@example.org", "x", 303, public), Verdict::Continue);
}

#[test]
fn redirect_and_body_failures_are_recognised() {
    assert!(redirects_to("https://app.example/login?failed=1", "/login?failed"));
    assert!(redirects_to("/login?failed", "/login?failed"));
    assert!(!redirects_to("/contacts", "/login?failed"));
    let (g, _, _) = guard(|s| s.failure = FailureSignal::Body(regex::Regex::new("invalid").unwrap()));
    let mut ctx = RequestContext::for_test(Method::POST, "/login", "192.0.2.1".parse().unwrap());
    g.on_request_headers(&mut ctx).unwrap();
    assert!(g.wants_response_body_of(&ctx));
    let resp = ResponseFacts { status: StatusCode::OK, headers: HeaderMap::new() };
    g.on_response_body(&mut ctx, &resp, b"<p>invalid username or password</p>").unwrap();
    assert!(ctx.tags.iter().any(|t| t.key == "login" && t.value == "failed"));
}

#[test]
fn memory_is_fixed_whatever_the_number_of_user_names() {
    let (g, _, _) = guard(|_| {});
    let before = g.memory_bytes();
    for i in 0..5000 {
        attempt(&g, &format!("10.0.{}.{}", i / 250, i % 250), &format!("u{i}"), &format!("p{i}"), 401, public);
    }
    assert_eq!(g.memory_bytes(), before);
    assert!(before <= (1 << 20) + 8192, "{before}");
}

#[test]
fn many_user_names_from_one_source_are_named_and_json_bodies_read() {
    let (g, _, events) = guard(|s| s.per_client.count = 1000);
    for i in 0..10 {
        let mut ctx = RequestContext::for_test(Method::POST, "/login", "203.0.113.9".parse().unwrap());
        ctx.headers.insert("content-type", "application/json".parse().unwrap());
        g.on_request_headers(&mut ctx).unwrap();
        let body = format!(r#"{{"username":"user{i}@example.org","password":"pw{i}"}}"#);
        g.on_request_body(&mut ctx, body.as_bytes()).unwrap();
        assert!(ctx.tags.iter().any(|t| t.key == "login_user" && t.value.starts_with("user#")));
        let resp = ResponseFacts { status: StatusCode::UNAUTHORIZED, headers: HeaderMap::new() };
        g.on_response_headers(&mut ctx, &resp).unwrap();
    }
    let ev = events.0.lock().unwrap().clone();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0].0.as_str(), ev[0].1.as_str()), ("credential_stuffing_many_usernames", "client:203.0.113.9"));
}
