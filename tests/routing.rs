//! Routing and upstream pools through the real binary: host and path-prefix routes, the 404
//! page, round-robin and least-connections balancing, passive ejection, `/readyz` following the
//! health checks, and bodies streamed both ways.

mod common;

use std::time::Duration;

use common::{admin_section, client, closed_port, eventually, temp_dir, Backend, BulkBackend, Rampart};

/// The backend that answered (from its `x-backend` header), and the status.
fn who(url: &str, host: Option<&str>) -> (u16, String) {
    let mut req = client().get(url);
    if let Some(h) = host {
        req = req.header("host", h);
    }
    let resp = req.send().expect("request");
    let status = resp.status().as_u16();
    let backend = resp.headers().get("x-backend").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, backend)
}

#[test]
fn host_and_path_prefix_routes_pick_their_upstreams() {
    let (root, api, v2, wild, shop) =
        (Backend::start("root"), Backend::start("api"), Backend::start("v2"), Backend::start("wild"), Backend::start("shop"));
    let config = format!(
        r#"
[[listener]]
address = "127.0.0.1:0"

[[upstream]]
name = "root"
servers = ["{}"]
[[upstream]]
name = "api"
servers = ["{}"]
[[upstream]]
name = "v2"
servers = ["{}"]
[[upstream]]
name = "wild"
servers = ["{}"]
[[upstream]]
name = "shop"
servers = ["{}"]

[[route]]
path = "/"
upstream = "root"
[[route]]
path = "/api"
upstream = "api"
[[route]]
path = "/api/v2"
upstream = "v2"
[[route]]
host = "*.example.org"
upstream = "wild"
[[route]]
host = "shop.test"
path = "/cart"
upstream = "shop"
"#,
        root.addr, api.addr, v2.addr, wild.addr, shop.addr
    );
    let r = Rampart::start(&config);
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("/", None, "root"),
        ("/index.html", None, "root"),
        ("/api", None, "api"),
        ("/api/users?x=1", None, "api"),
        // Longest prefix wins, on whole segments only.
        ("/api/v2/users", None, "v2"),
        ("/api/v2", None, "v2"),
        ("/api/v20", None, "api"),
        ("/apix", None, "root"),
        // One wildcard label: not the bare domain, not two labels deep.
        ("/api/v2", Some("www.example.org"), "wild"),
        ("/", Some("WWW.Example.ORG:8443"), "wild"),
        ("/", Some("example.org"), "root"),
        ("/", Some("a.b.example.org"), "root"),
        ("/cart/7", Some("shop.test"), "shop"),
        ("/other", Some("shop.test"), "root"),
    ];
    for (path, host, want) in cases {
        let (status, got) = who(&r.url(path), *host);
        assert_eq!((status, got.as_str()), (200, *want), "{path} with host {host:?}");
    }
    let access = common::wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| l.len() >= cases.len());
    assert!(access.iter().any(|l| l["route"] == "/api/v2" && l["path"] == "/api/v2/users"), "{access:?}");
}

#[test]
fn no_matching_route_is_a_404_page() {
    let app = Backend::start("app");
    let config = format!(
        r#"
[[listener]]
address = "127.0.0.1:0"

[[upstream]]
name = "app"
servers = ["{}"]

[[route]]
host = "only.test"
upstream = "app"
"#,
        app.addr
    );
    let r = Rampart::start(&config);
    assert_eq!(who(&r.url("/"), Some("only.test")), (200, "app".to_string()));
    let resp = client().get(r.url("/x")).header("host", "elsewhere.test").send().unwrap();
    assert_eq!(resp.status(), 404);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let body = resp.text().unwrap();
    assert!(body.contains("Not found") && body.contains(&id), "{body}");
    let json = client().get(r.url("/x")).header("host", "elsewhere.test").header("accept", "application/json").send().unwrap();
    assert_eq!(json.status(), 404);
    let v: serde_json::Value = json.json().unwrap();
    assert_eq!(v["status"], 404);
    assert_eq!(app.hits(), 1);
}

fn pool_config(servers: &[String], balance: &str, extra: &str) -> String {
    let list = servers.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
    format!(
        r#"
[[listener]]
address = "127.0.0.1:0"

[[upstream]]
name = "pool"
servers = [{list}]
balance = "{balance}"
connect_timeout = "1s"
{extra}

[[route]]
path = "/"
upstream = "pool"
"#
    )
}

#[test]
fn round_robin_spreads_requests_evenly() {
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let r = Rampart::start(&pool_config(&[a.addr.to_string(), b.addr.to_string()], "round_robin", ""));
    let c = client();
    for _ in 0..20 {
        assert_eq!(c.get(r.url("/")).send().unwrap().status(), 200);
    }
    assert_eq!((a.hits(), b.hits()), (10, 10));
}

#[test]
fn least_conn_avoids_the_busy_server() {
    let slow = Backend::start_with_delay("slow", Duration::from_secs(4));
    let fast = Backend::start("fast");
    let r = Rampart::start(&pool_config(&[slow.addr.to_string(), fast.addr.to_string()], "least_conn", ""));
    // Put a request in flight on the slow server (one that lands on the fast server just
    // finishes, and the next tie goes the other way).
    let mut pending = Vec::new();
    eventually(Duration::from_secs(10), "a request in flight on the slow server", || {
        if slow.hits() >= 1 {
            return Some(());
        }
        let before = slow.hits() + fast.hits();
        let url = r.url("/held");
        pending.push(std::thread::spawn(move || client().get(url).send().map(|r| r.status().as_u16())));
        eventually(Duration::from_secs(5), "the request to arrive", || (slow.hits() + fast.hits() > before).then_some(()));
        None
    });
    let fast_before = fast.hits();
    let c = client();
    let to_fast = (0..10).filter(|_| c.get(r.url("/quick")).send().unwrap().headers()["x-backend"] == "fast").count();
    // Round-robin would send five of these to the slow server. Least-connections sends them all
    // to the idle one; at most one can tie (if the previous quick response is still being
    // released when the next request is picked).
    assert!(to_fast >= 9, "only {to_fast} of 10 went to the idle server");
    assert_eq!(fast.hits() - fast_before, to_fast);
    for p in pending {
        assert_eq!(p.join().unwrap().unwrap(), 200);
    }
}

#[test]
fn a_dead_server_is_ejected_and_the_live_one_serves() {
    let live = Backend::start("live");
    let dead = closed_port();
    let r = Rampart::start(&pool_config(&[dead.to_string(), live.addr.to_string()], "round_robin", ""));
    let c = client();
    let statuses: Vec<u16> = (0..30).map(|_| c.get(r.url("/")).send().unwrap().status().as_u16()).collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    // A refused connect costs a request at most until the dead server is ejected; a client
    // should (nearly) never see a 502 while a live server is in the pool.
    assert!(ok >= 28, "{ok} of 30 succeeded with a live server in the pool: {statuses:?}");
    assert!(statuses[6..].iter().all(|s| *s == 200), "failures after the ejection: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 502), "{statuses:?}");
    assert_eq!(live.hits(), ok);
}

#[test]
fn readyz_follows_the_health_checks() {
    let app = Backend::start("app");
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    let health = r#"health = { path = "/healthz", interval = "200ms", timeout = "100ms", unhealthy_threshold = 2, healthy_threshold = 1 }"#;
    let mut config = pool_config(&[app.addr.to_string()], "round_robin", health);
    config.push_str(&admin);
    let r = Rampart::start_in(dir, &config);
    let ready = || client().get(r.admin_url("/readyz")).send().unwrap().status().as_u16();
    eventually(Duration::from_secs(5), "/readyz 200 while the server is up", || (ready() == 200).then_some(()));
    eventually(Duration::from_secs(5), "a health check to reach the server", || (app.hits() > 0).then_some(()));
    drop(app);
    eventually(Duration::from_secs(10), "/readyz 503 once every server is down", || (ready() == 503).then_some(()));
    let body = client().get(r.admin_url("/readyz")).send().unwrap().text().unwrap();
    assert!(body.contains("pool"), "{body}");
}

#[test]
fn a_pool_of_dead_servers_is_not_ready() {
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    let health = r#"health = { interval = "200ms", timeout = "100ms" }"#;
    let mut config = pool_config(&[closed_port().to_string(), closed_port().to_string()], "round_robin", health);
    config.push_str(&admin);
    let r = Rampart::start_in(dir, &config);
    let ready = || client().get(r.admin_url("/readyz")).send().unwrap().status().as_u16();
    eventually(Duration::from_secs(10), "/readyz 503", || (ready() == 503).then_some(()));
    // No usable server: the proxy still tries one rather than refusing, and reports the failure.
    assert_eq!(client().get(r.url("/")).send().unwrap().status(), 502);
}

#[test]
fn a_large_request_body_streams_to_the_upstream() {
    let app = Backend::start("app");
    let r = Rampart::start(&common::config_for(&app, "[limits]\nmax_body = \"8MiB\"\n"));
    let body: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    let resp = client().post(r.url("/upload")).body(body).send().unwrap();
    assert_eq!(resp.status(), 200);
    let echo: serde_json::Value = resp.json().unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body_len"], 5 * 1024 * 1024);
}

#[test]
fn a_large_response_streams_back_intact() {
    const SIZE: usize = 24 * 1024 * 1024;
    let bulk = BulkBackend::start(SIZE);
    let config = format!(
        "[[listener]]\naddress = \"127.0.0.1:0\"\n\n[[upstream]]\nname = \"bulk\"\nservers = [\"{}\"]\n",
        bulk.addr
    );
    let r = Rampart::start(&config);
    let resp = client().get(r.url("/download")).send().unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().unwrap();
    assert_eq!(bytes.len(), SIZE);
    let bad = bytes.iter().enumerate().position(|(i, b)| *b != (i % 251) as u8);
    assert_eq!(bad, None, "the body differs from what the upstream sent");
}

/// An upstream slower than its `read_timeout` is answered 504 once the timeout passes (not when
/// the upstream finally answers), and the request is counted as an upstream error.
#[test]
fn an_upstream_slower_than_its_read_timeout_is_a_504() {
    let slow = Backend::start_with_delay("slow", Duration::from_secs(3));
    let r = Rampart::start(&pool_config(&[slow.addr.to_string()], "round_robin", "read_timeout = \"500ms\""));
    let started = std::time::Instant::now();
    let resp = client().get(r.url("/")).header("accept", "application/json").send().unwrap();
    let took = started.elapsed();
    assert_eq!(resp.status(), 504);
    assert!(took >= Duration::from_millis(500) && took < Duration::from_millis(2500), "answered after {took:?}");
    let v: serde_json::Value = resp.json().unwrap();
    assert_eq!(v["status"], 504);
    assert_eq!(slow.hits(), 1);
}
