//! Reload (SIGHUP and the admin API) and graceful shutdown (SIGTERM) through the real binary.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{admin_section, client, config_for, eventually, get_request, read_response, temp_dir, Backend, Rampart, ADMIN_TOKEN};

const TRUST_XFF: &str = "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\nclient_address = \"x-forwarded-for\"\n";

fn with_deny(backend: &Backend, deny: &[&str], admin: &str) -> String {
    let list = deny.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ");
    config_for(backend, &format!("{TRUST_XFF}\n[access]\ndeny = [{list}]\n\n{admin}"))
}

const BROKEN: &str = "[[listener]]\naddres = \"127.0.0.1:0\"\n\n[[upstream]]\nname = \"app\"\nservers = [\"127.0.0.1:1\"]\nbalance = \"fastest\"\n";

/// Wait until `phrase` has appeared in `n` log lines.
fn wait_for_lines(r: &Rampart, phrase: &str, n: usize) -> Vec<String> {
    eventually(Duration::from_secs(10), phrase, || {
        let lines: Vec<String> = r.logs().into_iter().filter(|l| l.contains(phrase)).collect();
        (lines.len() >= n).then_some(lines)
    })
}

fn status_as(r: &Rampart, client_ip: &str) -> u16 {
    client().get(r.url("/")).header("x-forwarded-for", client_ip).send().unwrap().status().as_u16()
}

#[test]
fn sighup_applies_a_new_config_without_dropping_an_open_connection() {
    let app = Backend::start("app");
    let r = Rampart::start(&with_deny(&app, &["192.0.2.1"], ""));
    let mut conn = TcpStream::connect(r.addrs[0]).unwrap();
    let ask = |conn: &mut TcpStream, ip: &str| {
        conn.write_all(&get_request("/", &[&format!("X-Forwarded-For: {ip}")])).unwrap();
        read_response(conn, Duration::from_secs(5)).expect("a response on the kept-alive connection").status
    };
    assert_eq!(ask(&mut conn, "203.0.113.7"), 200);
    std::fs::write(r.config_path(), with_deny(&app, &["192.0.2.1", "203.0.113.7"], "")).unwrap();
    r.signal("HUP");
    wait_for_lines(&r, "configuration reloaded", 1);
    // The same connection: the new deny applies to its next request.
    assert_eq!(ask(&mut conn, "203.0.113.7"), 403);
    assert_eq!(ask(&mut conn, "203.0.113.8"), 200);
    assert_eq!(app.hits(), 2);
    common::wait_json_logs(&r, "rampart::event", Duration::from_secs(5), |e| e.iter().any(|e| e["kind"] == "config_reload" && e["ok"] == true));
}

#[test]
fn sighup_with_an_invalid_config_keeps_the_running_one() {
    let app = Backend::start("app");
    let r = Rampart::start(&with_deny(&app, &["203.0.113.7"], ""));
    let mut kept = TcpStream::connect(r.addrs[0]).unwrap();
    kept.write_all(&get_request("/", &[])).unwrap();
    assert_eq!(read_response(&mut kept, Duration::from_secs(5)).unwrap().status, 200);
    std::fs::write(r.config_path(), BROKEN).unwrap();
    r.signal("HUP");
    let refused = wait_for_lines(&r, "reload refused", 1);
    let line: serde_json::Value = serde_json::from_str(&refused[0]).unwrap();
    let errors = line["errors"].as_str().unwrap_or_default();
    // Every problem, each with its place in the file.
    assert!(errors.contains("rampart.toml:2:1:") && errors.contains("addres"), "{errors}");
    assert!(errors.contains("rampart.toml:7:") && errors.contains("fastest"), "{errors}");
    assert_eq!(status_as(&r, "203.0.113.7"), 403);
    assert_eq!(status_as(&r, "203.0.113.8"), 200);
    kept.write_all(&get_request("/", &[])).unwrap();
    assert_eq!(read_response(&mut kept, Duration::from_secs(5)).unwrap().status, 200);
    let mut r = r;
    assert!(r.is_running());
}

#[test]
fn admin_reload_needs_the_token_and_reports_errors() {
    let app = Backend::start("app");
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    let r = Rampart::start_in(dir, &with_deny(&app, &["192.0.2.1"], &admin));
    let reload = r.admin_url("/api/reload");
    let c = client();
    assert_eq!(c.post(&reload).send().unwrap().status(), 401);
    assert_eq!(c.post(&reload).bearer_auth("not-the-token").send().unwrap().status(), 401);
    assert_eq!(status_as(&r, "203.0.113.7"), 200);

    std::fs::write(r.config_path(), with_deny(&app, &["203.0.113.7"], &admin)).unwrap();
    // A wrong token changes nothing even with a new file waiting.
    assert_eq!(c.post(&reload).bearer_auth("not-the-token").send().unwrap().status(), 401);
    assert_eq!(status_as(&r, "203.0.113.7"), 200);
    let ok = c.post(&reload).bearer_auth(ADMIN_TOKEN).send().unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().unwrap();
    assert_eq!(body["reloaded"], true);
    assert!(body["detail"].as_str().unwrap().contains("access"), "{body}");
    assert_eq!(status_as(&r, "203.0.113.7"), 403);

    std::fs::write(r.config_path(), BROKEN).unwrap();
    let refused = c.post(&reload).bearer_auth(ADMIN_TOKEN).send().unwrap();
    assert_eq!(refused.status(), 422);
    let body: serde_json::Value = refused.json().unwrap();
    assert_eq!(body["reloaded"], false);
    let errors = body["errors"].as_str().unwrap();
    assert!(errors.contains("addres") && errors.contains("fastest"), "{errors}");
    assert_eq!(status_as(&r, "203.0.113.7"), 403);
    assert_eq!(status_as(&r, "203.0.113.8"), 200);
    let metrics = common::metrics_text(&r);
    assert!(metrics.contains("rampart_reloads_total{result=\"refused\"} 1"), "{metrics}");
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_zero() {
    let app = Backend::start_with_delay("slow", Duration::from_secs(3));
    let mut r = Rampart::start(&config_for(&app, ""));
    let url = r.url("/slow");
    let in_flight = std::thread::spawn(move || {
        let resp = client().get(url).send().expect("the in-flight request");
        (resp.status().as_u16(), resp.json::<serde_json::Value>().ok())
    });
    eventually(Duration::from_secs(5), "the request to reach the backend", || (app.hits() == 1).then_some(()));
    r.signal("TERM");
    // While draining, new connections are refused at once (a load balancer fails over) rather
    // than left waiting in the listen queue until the process exits.
    let addr = r.addrs[0];
    eventually(Duration::from_secs(2), "new connections refused while draining", || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err().then_some(())
    });
    let (status, echo) = in_flight.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(echo.expect("the whole body")["target"], "/slow");
    assert_eq!(r.wait_exit(Duration::from_secs(25)), Some(0), "{}", r.logs().join("\n"));
    let logs = r.logs();
    assert!(logs.iter().any(|l| l.contains("draining")), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("\"stopped\"")), "{logs:?}");
}

#[test]
fn a_reload_moves_new_requests_and_lets_the_one_in_flight_finish() {
    let old = Backend::start_with_delay("old", Duration::from_secs(2));
    let new = Backend::start("new");
    let r = Rampart::start(&config_for(&old, ""));
    let url = r.url("/in-flight");
    let in_flight = std::thread::spawn(move || {
        let resp = client().get(url).send().expect("the in-flight request");
        (resp.status().as_u16(), resp.headers().get("x-backend").map(|v| v.to_str().unwrap().to_string()))
    });
    eventually(Duration::from_secs(5), "the request to reach the old upstream", || (old.hits() == 1).then_some(()));
    std::fs::write(r.config_path(), config_for(&new, "")).unwrap();
    r.signal("HUP");
    wait_for_lines(&r, "configuration reloaded", 1);
    let resp = client().get(r.url("/after")).send().unwrap();
    assert_eq!(resp.headers()["x-backend"], "new");
    assert_eq!(in_flight.join().unwrap(), (200, Some("old".to_string())));
    assert_eq!((old.hits(), new.hits()), (1, 1));
}

/// The CPUs each of the process's `rampart-worker-*` threads may run on (`Cpus_allowed_list`
/// in /proc), by thread name.
#[cfg(target_os = "linux")]
fn worker_cpus(pid: u32) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let Ok(name) = std::fs::read_to_string(task.path().join("comm")) else { continue };
        if !name.starts_with("rampart-worker-") && !name.starts_with("rampart-priori") {
            continue;
        }
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let cpus = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).unwrap_or("").trim().to_string();
        out.push((name.trim().to_string(), cpus));
    }
    out.sort();
    out
}

/// How many CPUs a list such as "0-3,6" names.
#[cfg(target_os = "linux")]
fn cpu_count(list: &str) -> usize {
    let span = |r: &str| r.split_once('-').map_or(1, |(a, b)| b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1);
    list.split(',').map(span).sum()
}

/// With the defaults each per-core worker runs on one CPU of its own (and the staff worker on
/// all of them); a reload with `pin_workers = false` lets them run on all, and the requests on
/// a kept-alive connection keep being answered meanwhile.
#[cfg(target_os = "linux")]
#[test]
fn workers_are_pinned_and_a_reload_sets_them_free() {
    let all = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:").map(|v| v.trim().to_string()))
        .unwrap();
    let app = Backend::start("app");
    let r = Rampart::start(&config_for(&app, ""));
    let mut conn = TcpStream::connect(r.addrs[0]).unwrap();
    let ask = |conn: &mut TcpStream| {
        conn.write_all(&get_request("/", &[])).unwrap();
        read_response(conn, Duration::from_secs(5)).expect("a response on the kept-alive connection").status
    };
    // The workers start with the first connection.
    assert_eq!(ask(&mut conn), 200);
    let pinned = eventually(Duration::from_secs(5), "the workers' threads", || {
        let w = worker_cpus(r.pid());
        w.iter().any(|(n, _)| n.starts_with("rampart-worker-")).then_some(w)
    });
    let shared: Vec<&String> = pinned.iter().filter(|(n, _)| n.starts_with("rampart-worker-")).map(|(_, c)| c).collect();
    if std::thread::available_parallelism().unwrap().get() == cpu_count(&all) {
        let mut one_each: Vec<usize> = shared.iter().map(|c| c.parse().unwrap_or_else(|_| panic!("one CPU each: {pinned:?}"))).collect();
        one_each.sort();
        one_each.dedup();
        assert_eq!(one_each.len(), cpu_count(&all), "a different one each, one per CPU: {pinned:?}");
    } else {
        // A CPU quota: fewer workers than CPUs, none of them pinned.
        assert!(shared.iter().all(|c| *c == &all), "{pinned:?}");
    }
    for (name, cpus) in pinned.iter().filter(|(n, _)| !n.starts_with("rampart-worker-")) {
        assert_eq!(cpus, &all, "{name} is not pinned");
    }

    std::fs::write(r.config_path(), config_for(&app, "[server]\npin_workers = false\n")).unwrap();
    r.signal("HUP");
    wait_for_lines(&r, "configuration reloaded", 1);
    assert_eq!(ask(&mut conn), 200);
    let free = worker_cpus(r.pid());
    assert!(free.iter().all(|(_, cpus)| cpus == &all), "after the reload: {free:?}");
}
