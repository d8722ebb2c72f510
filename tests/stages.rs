//! The stages through the real binary: access lists (inline and list files, v4 and v6, reload
//! on SIGHUP), rate limits (throttle pages, block, ban escalation) and detect mode.
//!
//! Clients are named with `X-Forwarded-For` from the trusted loopback peer, so that one test
//! process can be many clients and a refusal is an HTTP answer, not a closed connection.

mod common;

use std::time::Duration;

use common::{client, config_for, temp_dir, wait_json_logs, write_file, Backend, Rampart};

const TRUST_XFF: &str = "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\nclient_address = \"x-forwarded-for\"\n";

fn status_as(r: &Rampart, path: &str, client_ip: &str) -> u16 {
    client().get(r.url(path)).header("x-forwarded-for", client_ip).send().unwrap().status().as_u16()
}

#[test]
fn access_deny_and_allow_v4_and_v6() {
    let app = Backend::start("app");
    let extra = format!(
        "{TRUST_XFF}\n[access]\ndeny = [\"203.0.113.0/24\", \"2001:db8::/32\"]\nallow = [\"203.0.113.9\", \"2001:db8::1\"]\n\n\
         [[rate_limit]]\nrate = \"1/m\"\nburst = 1\n"
    );
    let r = Rampart::start(&config_for(&app, &extra));
    assert_eq!(status_as(&r, "/", "203.0.113.5"), 403);
    assert_eq!(status_as(&r, "/", "2001:db8::5"), 403);
    assert_eq!(status_as(&r, "/", "198.51.100.1"), 200);
    assert_eq!(status_as(&r, "/", "2001:db9::5"), 200);
    // Allow wins over deny, and skips every later stage: the 1/m limit never applies.
    for _ in 0..4 {
        assert_eq!(status_as(&r, "/", "203.0.113.9"), 200);
        assert_eq!(status_as(&r, "/", "2001:db8::1"), 200);
    }
    // ...while it does apply to everyone else (one request at the rate plus a burst of one).
    let others: Vec<u16> = (0..2).map(|_| status_as(&r, "/", "198.51.100.1")).collect();
    assert_eq!(others, vec![200, 429]);
    let access = wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| l.iter().any(|x| x["client"] == "2001:db8::5"));
    let v6 = access.iter().find(|l| l["client"] == "2001:db8::5").expect("access line for the v6 client");
    assert_eq!((v6["status"].as_u64(), v6["stage"].as_str(), v6["verdict"].as_str()), (Some(403), Some("access"), Some("block")));
    assert_eq!(v6["reason"], "address on deny list");
}

#[test]
fn deny_list_files_in_plain_spamhaus_and_firehol_formats() {
    let app = Backend::start("app");
    let dir = temp_dir();
    write_file(dir.path(), "plain.txt", "# our own list\n203.0.113.1\n198.51.100.0/24   # a whole network\n\n2001:db8:bad::/48\n");
    write_file(
        dir.path(),
        "drop.txt",
        "; Spamhaus DROP List 2024/01/01 - (c) 2024 The Spamhaus Project\n; Last-Modified: Mon, 01 Jan 2024\n192.0.2.0/24 ; SBL123456\n100.64.0.0/10 ; SBL654321\n",
    );
    write_file(dir.path(), "level1.netset", "#\n# firehol_level1\n#\n# Maintainer: FireHOL\n#\n233.252.0.0/24\n203.0.113.200\n");
    let extra = format!("{TRUST_XFF}\n[access]\ndeny_files = [\"plain.txt\", \"drop.txt\", \"level1.netset\"]\n");
    let r = Rampart::start_in(dir, &config_for(&app, &extra));
    for denied in ["203.0.113.1", "198.51.100.77", "2001:db8:bad::1", "192.0.2.55", "100.100.1.1", "233.252.0.9", "203.0.113.200"] {
        assert_eq!(status_as(&r, "/", denied), 403, "{denied}");
    }
    for allowed in ["203.0.113.2", "198.51.101.1", "2001:db8:bae::1", "100.128.0.1"] {
        assert_eq!(status_as(&r, "/", allowed), 200, "{allowed}");
    }
}

#[test]
fn a_changed_list_file_applies_after_sighup() {
    let app = Backend::start("app");
    let dir = temp_dir();
    let list = write_file(dir.path(), "deny.txt", "203.0.113.1\n");
    let extra = format!("{TRUST_XFF}\n[access]\ndeny_files = [\"deny.txt\"]\n");
    let r = Rampart::start_in(dir, &config_for(&app, &extra));
    assert_eq!(status_as(&r, "/", "203.0.113.1"), 403);
    assert_eq!(status_as(&r, "/", "203.0.113.2"), 200);
    std::fs::write(&list, "203.0.113.2\n").unwrap();
    r.signal("HUP");
    r.wait_for_log(Duration::from_secs(10), |l| l.contains("configuration reloaded"));
    assert_eq!(status_as(&r, "/", "203.0.113.2"), 403);
    assert_eq!(status_as(&r, "/", "203.0.113.1"), 200);
}

/// Requests until the first that is not 200 (at most `n`).
fn first_refusal(r: &Rampart, n: usize, accept: &str) -> reqwest::blocking::Response {
    let c = client();
    for _ in 0..n {
        let resp = c.get(r.url("/limited")).header("accept", accept).send().unwrap();
        if resp.status() != 200 {
            return resp;
        }
    }
    panic!("no refusal within {n} requests");
}

#[test]
fn rate_limit_throttles_with_retry_after_in_json_and_html() {
    let app = Backend::start("app");
    let r = Rampart::start(&config_for(&app, "[[rate_limit]]\nrate = \"2/m\"\nburst = 2\n"));
    let resp = first_refusal(&r, 10, "application/json");
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: serde_json::Value = resp.json().unwrap();
    assert_eq!(body["request_id"], id.as_str());
    assert_eq!(body["status"], 429);
    let html = client().get(r.url("/limited")).header("accept", "text/html").send().unwrap();
    assert_eq!(html.status(), 429);
    assert!(html.headers().contains_key("retry-after"));
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let id = html.headers()["x-request-id"].to_str().unwrap().to_string();
    let text = html.text().unwrap();
    assert!(text.contains("Too many requests") && text.contains(&id), "{text}");
    wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| {
        l.iter().any(|l| l["status"] == 429 && l["stage"] == "rate_limit" && l["verdict"] == "throttle")
    });
}

#[test]
fn rate_limit_block_action_answers_403() {
    let app = Backend::start("app");
    let r = Rampart::start(&config_for(&app, "[[rate_limit]]\nrate = \"1/m\"\nburst = 1\naction = \"block\"\n"));
    let resp = first_refusal(&r, 10, "application/json");
    assert_eq!(resp.status(), 403);
    assert!(!resp.headers().contains_key("retry-after"));
    assert!(app.hits() >= 1);
}

#[test]
fn repeated_violations_escalate_to_a_ban() {
    let app = Backend::start("app");
    let extra = format!(
        "{TRUST_XFF}\n[[rate_limit]]\nrate = \"1/m\"\nburst = 1\npath = \"/api\"\nban = {{ after = 3, duration = \"1m\" }}\n"
    );
    let r = Rampart::start(&config_for(&app, &extra));
    let offender = "203.0.113.50";
    // Outside the limited path the offender is served, before the ban.
    assert_eq!(status_as(&r, "/free", offender), 200);
    let statuses: Vec<u16> = (0..6).map(|_| status_as(&r, "/api", offender)).collect();
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(statuses.contains(&429), "throttled before the ban: {statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 403, "{statuses:?}");
    // Banned: refused even where no limit applies.
    assert_eq!(status_as(&r, "/free", offender), 403);
    // Others are not.
    assert_eq!(status_as(&r, "/free", "203.0.113.51"), 200);
    assert_eq!(status_as(&r, "/api", "203.0.113.51"), 200);
    let access = wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| l.iter().filter(|l| l["client"] == offender).count() >= 8);
    let last = access.iter().rev().find(|l| l["client"] == offender).unwrap();
    assert_eq!((last["stage"].as_str(), last["reason"].as_str()), (Some("bans"), Some("temporarily banned")), "{last}");
    wait_json_logs(&r, "rampart::event", Duration::from_secs(5), |e| {
        e.iter().any(|e| e["kind"] == "decision" && e["stage"] == "bans" && e["client"] == offender)
    });
}

/// The decision events of `stage`, once there are at least `min`.
fn decisions(r: &Rampart, stage: &str, min: usize) -> Vec<serde_json::Value> {
    let of_stage = |e: &serde_json::Value| e["kind"] == "decision" && e["stage"] == stage;
    let events = wait_json_logs(r, "rampart::event", Duration::from_secs(5), |e| e.iter().filter(|e| of_stage(e)).count() >= min);
    events.into_iter().filter(of_stage).collect()
}

#[test]
fn top_level_detect_mode_records_and_enforces_nothing() {
    let app = Backend::start("app");
    let config = format!(
        "mode = \"detect\"\n{}",
        config_for(&app, &format!("{TRUST_XFF}\n[access]\ndeny = [\"203.0.113.7\"]\n\n[[rate_limit]]\nrate = \"1/m\"\nburst = 1\n"))
    );
    let r = Rampart::start(&config);
    for _ in 0..4 {
        assert_eq!(status_as(&r, "/", "203.0.113.7"), 200);
    }
    assert_eq!(app.hits(), 4);
    let access = decisions(&r, "access", 4);
    assert_eq!(access.len(), 4, "{access:?}");
    assert!(access.iter().all(|e| e["enforced"] == false && e["verdict"] == "block" && e["client"] == "203.0.113.7"));
    let limited = decisions(&r, "rate_limit", 2);
    assert!(!limited.is_empty() && limited.iter().all(|e| e["enforced"] == false), "{limited:?}");
    let lines = wait_json_logs(&r, "rampart::access", Duration::from_secs(5), |l| l.len() >= 4);
    assert!(lines.iter().all(|l| l["status"] == 200 && l["enforced"] == false), "{lines:?}");
}

#[test]
fn per_stage_detect_mode_leaves_the_other_stages_enforcing() {
    let app = Backend::start("app");
    let extra = format!(
        "{TRUST_XFF}\n[access]\ndeny = [\"203.0.113.7\"]\n\n[[rate_limit]]\nrate = \"1/m\"\nburst = 1\nmode = \"detect\"\n"
    );
    let r = Rampart::start(&config_for(&app, &extra));
    for _ in 0..4 {
        assert_eq!(status_as(&r, "/", "198.51.100.3"), 200);
    }
    assert_eq!(status_as(&r, "/", "203.0.113.7"), 403);
    let limited = decisions(&r, "rate_limit", 2);
    assert!(limited.len() >= 2, "{limited:?}");
    assert!(limited.iter().all(|e| e["enforced"] == false && e["verdict"] == "throttle"), "{limited:?}");
    let access = decisions(&r, "access", 1);
    assert_eq!(access.len(), 1);
    assert_eq!(access[0]["enforced"], true);
}

#[test]
fn a_ban_survives_a_configuration_reload() {
    let app = Backend::start("app");
    let extra = format!(
        "{TRUST_XFF}\n[[rate_limit]]\nrate = \"1/m\"\nburst = 1\npath = \"/api\"\nban = {{ after = 3, duration = \"1m\" }}\n"
    );
    let r = Rampart::start(&config_for(&app, &extra));
    let offender = "203.0.113.60";
    let banned = (0..8).map(|_| status_as(&r, "/api", offender)).any(|s| s == 403) && status_as(&r, "/free", offender) == 403;
    assert!(banned, "the offender was never banned");
    // An operator reloads (say, to add a deny list): the running bans must not be lifted.
    std::fs::write(r.config_path(), config_for(&app, &format!("{extra}\n[access]\ndeny = [\"192.0.2.1\"]\n"))).unwrap();
    r.signal("HUP");
    r.wait_for_log(Duration::from_secs(10), |l| l.contains("configuration reloaded"));
    assert_eq!(status_as(&r, "/free", offender), 403, "a reload lifted the ban");
    assert_eq!(status_as(&r, "/free", "203.0.113.61"), 200);
}

#[test]
fn a_broken_list_file_on_reload_keeps_the_running_lists() {
    let app = Backend::start("app");
    let dir = temp_dir();
    let list = write_file(dir.path(), "deny.txt", "203.0.113.1\n");
    let extra = format!("{TRUST_XFF}\n[access]\ndeny_files = [\"deny.txt\"]\n");
    let r = Rampart::start_in(dir, &config_for(&app, &extra));
    std::fs::write(&list, "203.0.113.2\nnot-an-address\n").unwrap();
    r.signal("HUP");
    let refused = r.wait_for_log(Duration::from_secs(10), |l| l.contains("reload refused"));
    assert!(refused.contains("deny.txt:2:") && refused.contains("not-an-address"), "{refused}");
    assert_eq!(status_as(&r, "/", "203.0.113.1"), 403);
    assert_eq!(status_as(&r, "/", "203.0.113.2"), 200);
}
