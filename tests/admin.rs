//! The admin listener and what an operator observes: `/healthz`, `/metrics`, `/api/status`,
//! and the JSON access log.

mod common;

use std::time::Duration;

use common::{admin_section, client, config_for, metrics_text, temp_dir, Backend, Rampart, ADMIN_TOKEN};

fn start_with_admin(app: &Backend, extra: &str) -> Rampart {
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    Rampart::start_in(dir, &config_for(app, &format!("{extra}\n{admin}")))
}

/// The value of the sample `name` (with its labels, exactly as rendered).
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn metrics_count_responses_verdicts_latency_connections_and_memory() {
    let app = Backend::start("app");
    let r = start_with_admin(&app, "[[rate_limit]]\nrate = \"1/m\"\nburst = 1\n");
    let c = client();
    let statuses: Vec<u16> = (0..4).map(|_| c.get(r.url("/")).send().unwrap().status().as_u16()).collect();
    assert_eq!(statuses, vec![200, 200, 429, 429]);
    let m = metrics_text(&r);
    assert_eq!(sample(&m, "rampart_responses_total{class=\"2xx\"}"), Some(2.0), "{m}");
    assert_eq!(sample(&m, "rampart_responses_total{class=\"4xx\"}"), Some(2.0), "{m}");
    assert_eq!(sample(&m, "rampart_verdicts_total{stage=\"rate_limit\",verdict=\"throttle\",enforced=\"true\"}"), Some(2.0), "{m}");
    assert_eq!(sample(&m, "rampart_upstream_latency_seconds_bucket{upstream=\"app\",le=\"+Inf\"}"), Some(2.0), "{m}");
    assert_eq!(sample(&m, "rampart_upstream_latency_seconds_count{upstream=\"app\"}"), Some(2.0), "{m}");
    // The pooled client above keeps its connection open.
    assert!(sample(&m, "rampart_connections_open").is_some_and(|n| n >= 1.0), "{m}");
    assert!(sample(&m, "rampart_stage_memory_bytes").is_some_and(|n| n > 0.0), "{m}");
    assert_eq!(sample(&m, "rampart_upstream_healthy_servers{upstream=\"app\"}"), Some(1.0), "{m}");
    // Admission: the adaptive limit starts at 64 and only follows a quiet upstream down (to
    // the minimum of 8); nothing is in flight or waiting between requests.
    let limit = sample(&m, "rampart_upstream_concurrency_limit{upstream=\"app\"}");
    assert!(limit.is_some_and(|l| (8.0..=64.0).contains(&l)), "{m}");
    assert_eq!(sample(&m, "rampart_upstream_in_flight{upstream=\"app\"}"), Some(0.0), "{m}");
    assert_eq!(sample(&m, "rampart_upstream_waiting{upstream=\"app\"}"), Some(0.0), "{m}");
    assert!(m.contains("# TYPE rampart_upstream_in_flight gauge\n"), "{m}");
    assert!(m.contains("# TYPE rampart_upstream_latency_seconds histogram"), "{m}");
}

#[test]
fn healthz_is_open_and_status_needs_the_token() {
    let app = Backend::start("app");
    let r = start_with_admin(&app, "[[rate_limit]]\nrate = \"100/s\"\n");
    let c = client();
    let health = c.get(r.admin_url("/healthz")).send().unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(c.get(r.admin_url("/readyz")).send().unwrap().status(), 200);
    assert_eq!(c.get(r.admin_url("/api/status")).send().unwrap().status(), 401);
    assert_eq!(c.get(r.admin_url("/api/status")).bearer_auth("wrong").send().unwrap().status(), 401);
    assert_eq!(c.get(r.url("/")).send().unwrap().status(), 200);
    let resp = c.get(r.admin_url("/api/status")).bearer_auth(ADMIN_TOKEN).send().unwrap();
    assert_eq!(resp.status(), 200);
    let s: serde_json::Value = resp.json().unwrap();
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(s["mode"], "enforce");
    // `[flood]` is on unless disabled: its bans, the clearance check and the detector run.
    assert_eq!(s["stages"], serde_json::json!(["bans", "challenge", "flood", "rate_limit"]));
    assert_eq!(s["listeners"], serde_json::json!([r.addrs[0].to_string()]));
    assert_eq!(s["upstreams"]["app"][0]["address"], app.addr.to_string());
    assert_eq!(s["upstreams"]["app"][0]["usable"], true);
    assert_eq!(s["responses_total"], 1);
}

#[test]
fn every_request_gets_one_json_access_log_line() {
    let app = Backend::start("app");
    let config = config_for(
        &app,
        "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\nclient_address = \"x-forwarded-for\"\n\n\
         [access]\ndeny = [\"203.0.113.7\"]\n\n[[rate_limit]]\nrate = \"1/m\"\nburst = 1\npath = \"/limited\"\n",
    );
    let r = Rampart::start(&config);
    let c = client();
    let mut sent = Vec::new();
    for (path, xff, want) in [
        ("/a", "198.51.100.1", 200),
        ("/b", "203.0.113.7", 403),
        ("/limited", "198.51.100.2", 200),
        ("/limited", "198.51.100.2", 200),
        ("/limited", "198.51.100.2", 429),
    ] {
        let resp = c.get(r.url(path)).header("x-forwarded-for", xff).send().unwrap();
        assert_eq!(resp.status().as_u16(), want, "{path} from {xff}");
        sent.push((resp.headers()["x-request-id"].to_str().unwrap().to_string(), path, xff, want));
    }
    let lines = common::eventually(Duration::from_secs(5), "five access log lines", || {
        let lines: Vec<String> = r.logs().into_iter().filter(|l| l.contains("rampart::access")).collect();
        (lines.len() >= sent.len()).then_some(lines)
    });
    assert_eq!(lines.len(), sent.len(), "{lines:?}");
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["request_id", "client", "route", "status", "verdict", "stage", "reason", "duration_ms", "method", "path"] {
            assert!(v.get(key).is_some(), "access line without `{key}`: {line}");
        }
        assert!(v["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{line}");
    }
    let access = r.json_logs("rampart::access");
    for (id, path, xff, want) in sent {
        let l = access.iter().find(|l| l["request_id"] == id.as_str()).unwrap_or_else(|| panic!("no line for {id}"));
        assert_eq!((l["path"].as_str(), l["client"].as_str(), l["status"].as_u64()), (Some(path), Some(xff), Some(u64::from(want))));
        let (verdict, stage) = match want {
            403 => ("block", "access"),
            429 => ("throttle", "rate_limit"),
            _ => ("continue", ""),
        };
        assert_eq!((l["verdict"].as_str(), l["stage"].as_str()), (Some(verdict), Some(stage)), "{l}");
        assert_eq!(l["route"], "/");
    }
}

#[test]
fn a_request_refused_before_routing_is_logged_too() {
    let app = Backend::start("app");
    let config = format!(
        "[[listener]]\naddress = \"127.0.0.1:0\"\n\n[[upstream]]\nname = \"app\"\nservers = [\"{}\"]\n\n[[route]]\nhost = \"only.test\"\nupstream = \"app\"\n",
        app.addr
    );
    let r = Rampart::start(&config);
    let resp = client().get(r.url("/nowhere")).header("host", "elsewhere.test").send().unwrap();
    assert_eq!(resp.status(), 404);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let line = r.wait_for_log(Duration::from_secs(5), |l| l.contains("rampart::access") && l.contains(&id));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!((v["status"].as_u64(), v["path"].as_str(), v["route"].as_str()), (Some(404), Some("/nowhere"), Some("")));
}

#[test]
fn the_open_connections_gauge_falls_back_when_clients_leave() {
    let app = Backend::start("app");
    let r = start_with_admin(&app, "");
    let open = || sample(&metrics_text(&r), "rampart_connections_open").expect("rampart_connections_open");
    let mut conns: Vec<std::net::TcpStream> = Vec::new();
    for _ in 0..3 {
        let mut s = std::net::TcpStream::connect(r.addrs[0]).unwrap();
        std::io::Write::write_all(&mut s, &common::get_request("/", &[])).unwrap();
        assert_eq!(common::read_response(&mut s, Duration::from_secs(5)).unwrap().status, 200);
        conns.push(s);
    }
    assert_eq!(open(), 3.0);
    drop(conns);
    common::eventually(Duration::from_secs(10), "the gauge back at 0", || (open() == 0.0).then_some(()));
}
