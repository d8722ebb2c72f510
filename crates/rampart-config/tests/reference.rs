//! `examples/reference.toml` — every key — parses, and means what its comments say.

mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use rampart_config::*;

#[test]
fn reference_parses_with_every_key() {
    let dir = common::reference_dir("reference");
    let config = match load(&dir.join("rampart.toml")) {
        Ok(c) => c,
        Err(e) => panic!("reference.toml must parse:\n{e}"),
    };
    assert_eq!(config.mode, StageMode::Enforce);
    assert_eq!(config.server.client_address, ClientAddress::XForwardedFor);
    assert_eq!(config.server.trusted_proxies.len(), 2);

    assert_eq!(config.listeners.len(), 2);
    let tls = config.listeners[0].tls.as_ref().expect("tls");
    assert_eq!(tls.cert, dir.join("tls/site.pem"), "relative paths resolve against the file's directory");
    assert_eq!(tls.sni.len(), 1);
    assert_eq!(tls.sni[0].name, "members.example.org");
    assert!(config.listeners[1].tls.is_none() && config.listeners[1].http2);

    assert_eq!(config.limits.body_min_rate, 1024);
    assert_eq!(config.limits.max_body, 10 * 1024 * 1024);
    assert_eq!(config.limits.idle_timeout, Duration::from_secs(60));
    assert_eq!(config.limits.tunnel_idle_timeout, Duration::from_secs(3600));
    assert!(config.server.pin_workers);

    let app = &config.upstreams[0];
    assert_eq!(app.balance, Balance::LeastConn);
    assert_eq!(app.servers[1].to_string(), "127.0.0.1:9101");
    assert_eq!(app.health.as_ref().map(|h| h.path.as_str()), Some("/healthz"));
    assert_eq!(app.max_connections, NonZeroU32::new(256));
    assert_eq!(app.forward_headers, ForwardHeaders::ALL);

    assert_eq!(config.routes.len(), 2);
    assert_eq!(config.routes[0].name, "campaign");
    assert_eq!(config.routes[1].name, "/contacts");
    assert!(config.routes[1].sensitive);
    assert!(config.routes[0].websocket && !config.routes[1].websocket);
    assert_eq!(config.upstream_of(&config.routes[1]).map(|u| u.name.as_str()), Some("app"));

    assert_eq!(config.priorities.len(), 2);
    assert_eq!(config.priorities[1].header.as_deref(), Some("x-staff-token"));
    let access = config.access.as_ref().expect("access");
    assert_eq!(access.deny_files, vec![dir.join("lists/drop.txt")]);

    assert_eq!(config.rate_limits.len(), 2);
    assert_eq!(config.rate_limits[0].burst.get(), 40);
    assert_eq!(config.rate_limits[1].key, RateKey::Header("x-api-key".into()));
    assert_eq!(config.rate_limits[1].scope, RateScope::Routes(vec!["/contacts".into()]));
    assert_eq!(config.rate_limits[1].burst.get(), 600, "burst defaults to the rate's count");
    assert!(config.rate_limits[1].ban.is_some());

    assert_eq!(config.flood.sensitivity, Sensitivity::High);
    assert!(matches!(config.logins[0].failure, LoginFailure::Status(401)));
    let ex = &config.exfiltration[0];
    assert_eq!(ex.identity[0], Identity::Class { class: "staff".into(), cookie: "session".into() });
    assert_eq!(ex.budget.bytes, Some(5 * 1024 * 1024));

    let waf = config.waf.as_ref().expect("waf");
    assert_eq!(waf.rules.len(), 3, "one file plus a glob matching two, sorted: {:?}", waf.rules);
    assert!(waf.rules[1].ends_with("REQUEST-901-INITIALIZATION.conf"));
    assert_eq!(waf.request_body_limit, 13_107_200);
    assert_eq!(waf.on_error, OnError::Closed);

    assert!(matches!(config.state.backend, StateBackend::Redis(ref r) if r.sync_interval == Duration::from_millis(100)));
    assert_eq!(config.audit.as_ref().map(|a| a.dir.clone()), Some(dir.join("audit")));
    assert_eq!(config.admin.as_ref().map(|a| a.address.to_string()), Some("127.0.0.1:9090".into()));
    assert_eq!(config.log.format, LogFormat::Json);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn reference_without_its_files_reports_each_one() {
    let text = common::reference_text();
    let dir = common::scratch("reference-empty");
    let errors = parse(&text, &dir.join("rampart.toml")).expect_err("files are missing");
    assert!(errors.iter().all(|e| e.kind == ErrorKind::File), "{errors}");
    // 11 named files (the glob's two count as one pattern).
    assert_eq!(errors.len(), 11, "{errors}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn minimal_config_gets_documented_defaults() {
    let text = "[[listener]]\naddress = \"127.0.0.1:8080\"\n[[upstream]]\nname = \"app\"\nservers = [\"127.0.0.1:9100\"]\n";
    let config = parse(text, std::path::Path::new("rampart.toml")).expect("valid");
    assert_eq!(config.limits, Config::default_limits());
    assert_eq!(config.server, Config::default_server());
    assert_eq!(config.state, Config::default_state());
    assert_eq!(config.log, Config::default_log());
    assert_eq!(config.flood, Config::default_flood());
    assert_eq!(config.routes.len(), 1, "one upstream and no route: a catch-all route");
    assert_eq!(config.routes[0].path, "/");
    assert!(config.access.is_none() && config.waf.is_none() && config.admin.is_none() && config.audit.is_none());
    assert_eq!(config.upstreams[0].balance, Balance::RoundRobin);
    assert_eq!(config.upstreams[0].forward_headers, ForwardHeaders::ALL);
}

#[test]
fn forward_headers_name_the_fields_sent() {
    let upstream = |list: &str| {
        format!("[[listener]]\naddress = \"127.0.0.1:8080\"\n[[upstream]]\nname = \"app\"\nservers = [\"127.0.0.1:9100\"]\nforward_headers = {list}\n")
    };
    let path = std::path::Path::new("rampart.toml");
    let config = parse(&upstream(r#"["X-Forwarded-For", "x-request-id"]"#), path).expect("valid");
    assert_eq!(config.upstreams[0].forward_headers, ForwardHeaders::X_FORWARDED_FOR.with(ForwardHeaders::X_REQUEST_ID));
    let config = parse(&upstream("[]"), path).expect("valid");
    assert_eq!(config.upstreams[0].forward_headers, ForwardHeaders::NONE);
    // Both mistakes, each at its place on line 6.
    let errors = parse(&upstream(r#"["x-forwarded-four", "forwarded", "forwarded"]"#), path).expect_err("invalid");
    let text = errors.to_string();
    assert!(
        text.contains("rampart.toml:6:20") && text.contains("found \"x-forwarded-four\", did you mean `x-forwarded-for`?"),
        "{text}"
    );
    assert!(text.contains("rampart.toml:6:53") && text.contains("\"forwarded\" is listed twice"), "{text}");
}
