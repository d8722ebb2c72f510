use std::net::IpAddr;

use http::header::{COOKIE as COOKIE_HEADER, LOCATION, SET_COOKIE, USER_AGENT};
use http::{HeaderMap, Method, StatusCode};
use rampart_core::{Gate, GateRequest, RequestContext};

use super::*;
use crate::clearance::solves;

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Test";

fn gate(settings: ChallengeSettings) -> ChallengeGate {
    ChallengeGate::new(Keys::random(), settings, Arc::new(Mitigation::new()))
}

fn fixed(bits: u32) -> ChallengeSettings {
    ChallengeSettings { difficulty: Difficulty::Fixed(bits), ..ChallengeSettings::default() }
}

fn headers(ua: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(USER_AGENT, ua.parse().unwrap());
    h
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The JSON challenge a client gets for `ua`.
fn challenge_json(g: &ChallengeGate, ua: &str) -> serde_json::Value {
    let mut ctx = RequestContext::for_test(Method::GET, "/contacts?page=2", ip("192.0.2.7"));
    ctx.headers = headers(ua);
    let reply = g.challenge(&ctx, "test", true);
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.headers.contains_key(HEADER));
    serde_json::from_slice(&reply.body).unwrap()
}

fn solve(challenge: &str, bits: u32) -> String {
    (0u64..).map(|n| n.to_string()).find(|a| solves(challenge, a, bits)).unwrap()
}

fn post(g: &ChallengeGate, ua: &str, body: &str) -> Reply {
    request(g, Method::POST, ENDPOINT, ua, body)
}

fn request(g: &ChallengeGate, method: Method, path: &str, ua: &str, body: &str) -> Reply {
    let h = headers(ua);
    g.answer(&GateRequest {
        method: &method,
        path,
        query: None,
        headers: &h,
        body: body.as_bytes(),
        client: ip("192.0.2.7"),
        tls: None,
    })
}

fn cookie_of(reply: &Reply) -> String {
    let set = reply.headers[SET_COOKIE].to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    set.split(';').next().unwrap().to_string()
}

#[test]
fn a_solved_challenge_earns_a_clearance_the_stage_honours() {
    let g = Arc::new(gate(fixed(8)));
    let c = challenge_json(&g, UA);
    let token = c["challenge"].as_str().unwrap();
    let answer = solve(token, 8);
    // Browsers send the return path percent-encoded.
    let reply = post(&g, UA, &format!("c={token}&n={answer}&r=%2Fcontacts%3Fpage%3D2"));
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers[LOCATION], "/contacts?page=2");
    let cookie = cookie_of(&reply);

    let stage = ClearanceStage::new(Arc::clone(&g));
    let mut ctx = RequestContext::for_test(Method::GET, "/", ip("198.51.100.4"));
    ctx.headers = headers(UA);
    ctx.headers.insert(COOKIE_HEADER, cookie.parse().unwrap());
    stage.on_request_headers(&mut ctx).unwrap();
    assert!(ctx.identity.clearance.is_some(), "a new address keeps the clearance");

    // Another agent string replaying the cookie does not.
    let mut replay = RequestContext::for_test(Method::GET, "/", ip("198.51.100.4"));
    replay.headers = headers("curl/8.0");
    replay.headers.insert(COOKIE_HEADER, cookie.parse().unwrap());
    stage.on_request_headers(&mut replay).unwrap();
    assert!(replay.identity.clearance.is_none());
}

#[test]
fn wrong_answers_replays_and_other_browsers_are_refused() {
    let g = gate(fixed(10));
    let c = challenge_json(&g, UA);
    let token = c["challenge"].as_str().unwrap();
    let answer = solve(token, 10);
    let wrong = (0u64..).map(|n| n.to_string()).find(|a| !solves(token, a, 10)).unwrap();
    assert_eq!(post(&g, UA, &format!("c={token}&n={wrong}")).status, StatusCode::FORBIDDEN);
    assert_eq!(post(&g, "curl/8.0", &format!("c={token}&n={answer}")).status, StatusCode::FORBIDDEN);
    assert_eq!(post(&g, UA, &format!("c={token}&n={answer}")).status, StatusCode::SEE_OTHER);
    assert_eq!(post(&g, UA, &format!("c={token}&n={answer}")).status, StatusCode::FORBIDDEN, "spent");
    let forged = token.replacen(".10.", ".1.", 1);
    assert_eq!(post(&g, UA, &format!("c={forged}&n=0")).status, StatusCode::FORBIDDEN);
    assert_eq!(g.counts.solved.load(Ordering::Relaxed), 1);
}

#[test]
fn the_wait_challenge_is_refused_before_its_time() {
    let g = gate(ChallengeSettings { fallback_wait: Duration::from_secs(30), ..fixed(8) });
    let c = challenge_json(&g, UA);
    assert_eq!(c["wait_seconds"], 30);
    let wait = c["wait"].as_str().unwrap();
    let reply = post(&g, UA, &format!("c={wait}"));
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // A wait challenge issued 31 s ago (signed with the same keys) is accepted.
    let old = Challenge {
        kind: ChallengeKind::Wait { seconds: 30 },
        issued: unix(SystemTime::now()) - 31,
        nonce: "00ff".into(),
        bind: binding(Some(UA)),
    };
    let token = old.token(&g.keys);
    assert_eq!(post(&g, UA, &format!("c={token}&r=/")).status, StatusCode::SEE_OTHER);
}

#[test]
fn a_clearance_passed_around_many_prefixes_is_revoked() {
    let g = gate(ChallengeSettings { max_prefixes: 3, ..fixed(4) });
    let k = Clearance::new(SystemTime::now(), Duration::from_secs(60), binding(Some(UA)));
    let mut h = headers(UA);
    h.insert(COOKIE_HEADER, format!("{COOKIE}={}", k.token(&g.keys)).parse().unwrap());
    let now = SystemTime::now();
    for i in 0..3 {
        assert!(g.check_clearance(&h, ip(&format!("203.0.{i}.9")), now).is_some());
        assert!(g.check_clearance(&h, ip(&format!("203.0.{i}.10")), now).is_some(), "same /24");
    }
    assert!(g.check_clearance(&h, ip("203.0.9.9"), now).is_none());
    assert!(g.check_clearance(&h, ip("203.0.0.9"), now).is_none(), "revoked everywhere");
    assert_eq!(g.counts.revoked.load(Ordering::Relaxed), 1);
}

#[test]
fn expired_clearances_are_not_honoured() {
    let g = gate(fixed(4));
    let k = Clearance::new(SystemTime::now(), Duration::from_secs(60), binding(Some(UA)));
    let mut h = headers(UA);
    h.insert(COOKIE_HEADER, format!("{COOKIE}={}", k.token(&g.keys)).parse().unwrap());
    let later = SystemTime::now() + Duration::from_secs(61);
    assert!(g.check_clearance(&h, ip("192.0.2.1"), later).is_none());
}

#[test]
fn the_gate_never_redirects_off_site() {
    for bad in ["//evil.example/", "https://evil.example/", "/\\evil", "/%2f%2fevil", "/%5Cevil", "/.rampart/challenge", "/caf\u{e9}", ""] {
        assert_eq!(safe_back(bad), "/", "{bad}");
    }
    assert_eq!(safe_back("/contacts/12?x=1"), "/contacts/12?x=1");
}

#[test]
fn auto_difficulty_rises_with_the_mode_and_with_suspicion() {
    let m = Arc::new(Mitigation::new());
    let g = ChallengeGate::new(Keys::random(), ChallengeSettings::default(), Arc::clone(&m));
    let mut browser = headers(UA);
    browser.insert(http::header::ACCEPT_LANGUAGE, "en-GB".parse().unwrap());
    let normal = g.bits_for(&browser);
    assert!(g.bits_for(&headers("python-requests/2.31")) > normal);
    m.set_detected(Mode::UnderAttack, Instant::now());
    assert!(g.bits_for(&browser) > normal);
}

#[test]
fn unknown_gate_paths_are_not_found() {
    let g = gate(fixed(4));
    let reply = request(&g, Method::GET, "/.rampart/other", UA, "");
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(g.owns("/.rampart/challenge") && !g.owns("/rampart"));
}

#[test]
fn a_challenge_asked_for_ahead_of_time_earns_a_clearance() {
    let g = gate(fixed(8));
    let mut h = headers(UA);
    h.insert(http::header::ACCEPT, "application/json".parse().unwrap());
    let ask = GateRequest { method: &Method::GET, path: ENDPOINT, query: None, headers: &h, body: b"", client: ip("192.0.2.7"), tls: None };
    let reply = g.answer(&ask);
    assert_eq!(reply.status, StatusCode::OK, "asked for, not met: 200");
    let c: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let token = c["challenge"].as_str().unwrap();
    assert_eq!(c["bits"], 8);
    let reply = post(&g, UA, &format!("c={token}&n={}&r=%2F", solve(token, 8)));
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(cookie_of(&reply).starts_with("rampart_clearance="));

    // A browser asking for the page gets the interstitial, which returns to `r` (on-site only).
    let page = GateRequest { query: Some("r=%2Fcontacts%3Fpage%3D2"), headers: &headers(UA), ..ask };
    let reply = g.answer(&page);
    assert_eq!(reply.status, StatusCode::OK);
    let html = String::from_utf8(reply.body).unwrap();
    assert!(html.contains(r#"name="r" value="/contacts?page"#), "{html}");
    let off_site = GateRequest { query: Some("r=https%3A%2F%2Fevil.example%2F"), headers: &headers(UA), ..ask };
    assert!(!String::from_utf8(g.answer(&off_site).body).unwrap().contains("evil.example"));
}
