use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};
use rampart_core::{Pipeline, Rate, RouteInfo};
use rampart_state::ManualClock;

use super::*;
use crate::bans::{Bans, BansSettings};
use crate::rate_key::RateKey;
use crate::rate_limit_settings::{BanPolicy, RouteScope};

struct Rig {
    clock: Arc<ManualClock>,
    bans: Arc<BanList>,
}

impl Rig {
    fn new() -> Rig {
        Rig { clock: Arc::new(ManualClock::new()), bans: Arc::new(BanList::new(1024)) }
    }

    fn limit(&self, settings: RateLimitSettings) -> RateLimit {
        RateLimit::new(settings, self.bans.clone(), self.clock.clone()).unwrap()
    }
}

fn settings(key: RateKey, count: u64, per_secs: u64, burst: u32) -> RateLimitSettings {
    let mut s = RateLimitSettings::new("rate_limit[0]", key, Rate { count, per: Duration::from_secs(per_secs) });
    s.burst = burst;
    s.memory_bytes = 256 * 1024;
    s
}

fn req(client: &str) -> RequestContext {
    RequestContext::for_test(Method::GET, "/", client.parse::<IpAddr>().unwrap())
}

fn verdict(limit: &RateLimit, mut ctx: RequestContext) -> Verdict {
    limit.on_request_headers(&mut ctx).unwrap()
}

fn throttled(v: &Verdict) -> bool {
    matches!(v, Verdict::Throttle { .. })
}

#[test]
fn client_key_allows_the_burst_then_throttles_with_retry_after() {
    let rig = Rig::new();
    let limit = rig.limit(settings(RateKey::Client, 10, 1, 3));
    for _ in 0..4 {
        assert_eq!(verdict(&limit, req("192.0.2.1")), Verdict::Continue);
    }
    let v = verdict(&limit, req("192.0.2.1"));
    // 100 ms to wait, rounded up to the whole second the header carries.
    assert_eq!(v, Verdict::Throttle { retry_after: Duration::from_secs(1), reason: "rate limit exceeded".into() });
    assert_eq!(verdict(&limit, req("192.0.2.2")), Verdict::Continue);
    assert_eq!(verdict(&limit, req("2001:db8::1")), Verdict::Continue);
    rig.clock.advance(Duration::from_millis(100));
    assert_eq!(verdict(&limit, req("192.0.2.1")), Verdict::Continue);
    assert_eq!(limit.top_offenders(1)[0].key.as_str(), "192.0.2.1");
}

#[test]
fn retry_after_is_the_wait_until_the_next_request_conforms() {
    let rig = Rig::new();
    let limit = rig.limit(settings(RateKey::Client, 6, 60, 0)); // one every 10 s
    assert_eq!(verdict(&limit, req("192.0.2.1")), Verdict::Continue);
    let retry = |v: Verdict| match v {
        Verdict::Throttle { retry_after, .. } => retry_after,
        other => panic!("{other:?}"),
    };
    assert_eq!(retry(verdict(&limit, req("192.0.2.1"))), Duration::from_secs(10));
    rig.clock.advance(Duration::from_millis(3500));
    assert_eq!(retry(verdict(&limit, req("192.0.2.1"))), Duration::from_secs(7)); // 6.5 s, rounded up
    rig.clock.advance(Duration::from_millis(6500));
    assert_eq!(verdict(&limit, req("192.0.2.1")), Verdict::Continue);
}

#[test]
fn prefix_key_counts_a_24_or_a_64_together() {
    let rig = Rig::new();
    let limit = rig.limit(settings(RateKey::Prefix, 1, 60, 1));
    assert_eq!(verdict(&limit, req("192.0.2.1")), Verdict::Continue);
    assert_eq!(verdict(&limit, req("192.0.2.200")), Verdict::Continue);
    assert!(throttled(&verdict(&limit, req("192.0.2.77"))));
    assert_eq!(verdict(&limit, req("192.0.3.1")), Verdict::Continue);
    assert_eq!(verdict(&limit, req("2001:db8:0:1::1")), Verdict::Continue);
    assert_eq!(verdict(&limit, req("2001:db8:0:1:ffff::2")), Verdict::Continue);
    assert!(throttled(&verdict(&limit, req("2001:db8:0:1::3"))));
    assert_eq!(verdict(&limit, req("2001:db8:0:2::1")), Verdict::Continue);
}

#[test]
fn route_key_caps_the_route_as_a_whole() {
    let rig = Rig::new();
    let limit = rig.limit(settings(RateKey::Route, 1, 60, 1));
    let on_route = |client: &str| {
        let mut c = req(client);
        c.route = Some(RouteInfo { name: Arc::from("search"), upstream: Arc::from("app"), sensitive: false });
        c
    };
    assert_eq!(verdict(&limit, on_route("192.0.2.1")), Verdict::Continue);
    assert_eq!(verdict(&limit, on_route("198.51.100.1")), Verdict::Continue);
    assert!(throttled(&verdict(&limit, on_route("203.0.113.1"))));
    // No route matched: the limit does not apply.
    for _ in 0..5 {
        assert_eq!(verdict(&limit, req("203.0.113.1")), Verdict::Continue);
    }
}

#[test]
fn header_and_cookie_keys_apply_only_when_present() {
    let rig = Rig::new();
    let by_header = rig.limit(settings(RateKey::Header(HeaderName::from_static("x-api-key")), 1, 60, 0));
    let by_cookie = rig.limit(settings(RateKey::Cookie("session".into()), 1, 60, 0));
    let with = |header: Option<&str>, cookie: Option<&str>| {
        let mut c = req("192.0.2.1");
        if let Some(h) = header {
            c.headers.insert("x-api-key", h.parse().unwrap());
        }
        if let Some(s) = cookie {
            c.headers.insert(http::header::COOKIE, format!("theme=dark; session={s}").parse().unwrap());
        }
        c
    };
    assert_eq!(verdict(&by_header, with(Some("key-a"), None)), Verdict::Continue);
    assert!(throttled(&verdict(&by_header, with(Some("key-a"), None))));
    assert_eq!(verdict(&by_header, with(Some("key-b"), None)), Verdict::Continue);
    for _ in 0..3 {
        assert_eq!(verdict(&by_header, with(None, None)), Verdict::Continue);
        assert_eq!(verdict(&by_cookie, with(None, None)), Verdict::Continue);
    }
    assert_eq!(verdict(&by_cookie, with(None, Some("s1"))), Verdict::Continue);
    assert!(throttled(&verdict(&by_cookie, with(None, Some("s1")))));
    assert_eq!(verdict(&by_cookie, with(None, Some("s2"))), Verdict::Continue);
    assert!(by_cookie.top_offenders(1)[0].key.as_str().starts_with("cookie#"));
}

#[test]
fn block_and_challenge_actions() {
    let rig = Rig::new();
    let mut s = settings(RateKey::Client, 1, 60, 0);
    s.action = LimitAction::Block;
    let block = rig.limit(s.clone());
    s.action = LimitAction::Challenge;
    let challenge = rig.limit(s);
    for limit in [&block, &challenge] {
        assert_eq!(verdict(limit, req("192.0.2.1")), Verdict::Continue);
    }
    assert_eq!(verdict(&block, req("192.0.2.1")), Verdict::forbidden("rate limit exceeded"));
    assert_eq!(verdict(&challenge, req("192.0.2.1")), Verdict::Challenge { reason: "rate limit exceeded".into() });
}

/// Records the clients of `Event::Ban`s.
#[derive(Default)]
struct BanEvents(parking_lot::Mutex<Vec<IpAddr>>);

impl rampart_core::EventSink for BanEvents {
    fn emit(&self, event: rampart_core::Event) {
        if let rampart_core::Event::Ban { client, .. } = event {
            self.0.lock().push(client);
        }
    }
}

#[test]
fn repeated_violations_escalate_to_a_ban_that_expires() {
    let rig = Rig::new();
    let mut s = settings(RateKey::Client, 1, 1, 0);
    s.ban = Some(BanPolicy { after: 3, within: Duration::from_secs(60), duration: Duration::from_secs(600) });
    let seen = Arc::new(BanEvents::default());
    let limit: Arc<dyn Stage> = Arc::new(rig.limit(s).with_events(seen.clone()));
    let bans: Arc<dyn Stage> = Arc::new(Bans::new(BansSettings::default(), rig.bans.clone(), rig.clock.clone()));
    let pipeline = Pipeline::new(vec![bans, limit], StageMode::Enforce);
    let run = |client: &str| pipeline.on_request_headers(&mut req(client));

    assert_eq!(run("198.51.100.9").verdict, Verdict::Continue);
    assert!(throttled(&run("198.51.100.9").verdict)); // violation 1
    assert!(throttled(&run("198.51.100.9").verdict)); // violation 2
    let third = run("198.51.100.9");
    assert_eq!(third.verdict, Verdict::forbidden("rate limit exceeded; temporarily banned"));
    assert_eq!(third.stage, Some("rate_limit"));
    assert!(rig.bans.is_banned("198.51.100.9".parse().unwrap(), rig.clock.now()));
    assert_eq!(seen.0.lock().as_slice(), ["198.51.100.9".parse::<IpAddr>().unwrap()]);

    // Banned: refused by the ban stage even after the rate would allow it again.
    rig.clock.advance(Duration::from_secs(5));
    let banned = run("198.51.100.9");
    assert_eq!((banned.verdict, banned.stage), (Verdict::forbidden("temporarily banned"), Some("bans")));
    assert_eq!(run("198.51.100.10").verdict, Verdict::Continue);

    rig.clock.advance(Duration::from_secs(600));
    assert_eq!(run("198.51.100.9").verdict, Verdict::Continue);
}

#[test]
fn a_prefix_limit_bans_the_prefix() {
    let rig = Rig::new();
    let mut s = settings(RateKey::Prefix, 1, 60, 0);
    s.ban = Some(BanPolicy::new(1, Duration::from_secs(60)));
    let limit = rig.limit(s);
    assert_eq!(verdict(&limit, req("2001:db8:7:7::1")), Verdict::Continue);
    assert!(verdict(&limit, req("2001:db8:7:7::2")).is_disruptive());
    assert!(rig.bans.is_banned("2001:db8:7:7:ffff::9".parse().unwrap(), rig.clock.now()));
    assert!(!rig.bans.is_banned("2001:db8:7:8::1".parse().unwrap(), rig.clock.now()));
}

#[test]
fn detect_mode_records_without_enforcing_or_banning() {
    let rig = Rig::new();
    let mut s = settings(RateKey::Client, 1, 60, 0);
    s.mode = StageMode::Detect;
    s.ban = Some(BanPolicy::new(2, Duration::from_secs(600)));
    let pipeline = Pipeline::new(vec![Arc::new(rig.limit(s))], StageMode::Enforce);
    for i in 0..5 {
        let mut ctx = req("192.0.2.5");
        assert_eq!(pipeline.on_request_headers(&mut ctx).verdict, Verdict::Continue);
        assert_eq!(ctx.decisions.len(), usize::from(i > 0), "request {i}");
        if i > 0 {
            assert!(!ctx.decisions[0].enforced);
            assert!(ctx.decisions[0].verdict.is_disruptive());
        }
        if i >= 2 {
            assert!(ctx.tags.iter().any(|t| t.key == "would_ban"));
        }
    }
    assert!(rig.bans.is_empty(), "detect mode must not ban");
}

#[test]
fn route_scoping_gives_routes_their_own_limits() {
    let rig = Rig::new();
    let mut login = settings(RateKey::Client, 1, 60, 0);
    login.routes = RouteScope { path_prefixes: vec!["/login".into()], ..Default::default() };
    let login = rig.limit(login);
    let at = |path: &str| RequestContext::for_test(Method::POST, path, "192.0.2.1".parse().unwrap());
    assert_eq!(verdict(&login, at("/login")), Verdict::Continue);
    assert!(throttled(&verdict(&login, at("/login/submit"))));
    assert_eq!(verdict(&login, at("/contacts")), Verdict::Continue);
    assert_eq!(verdict(&login, at("/contacts")), Verdict::Continue);
}

#[test]
fn a_ceiling_too_small_is_refused_and_state_stays_within_it() {
    let rig = Rig::new();
    let mut s = settings(RateKey::Client, 1, 1, 0);
    s.memory_bytes = 512;
    assert!(RateLimit::new(s.clone(), rig.bans.clone(), rig.clock.clone()).is_err());
    s.memory_bytes = 1 << 20;
    let limit = rig.limit(s);
    assert!(limit.memory_bytes() <= 1 << 20);
}
