//! The shield as a plain reverse proxy: requests reach the upstream with the forwarding
//! headers set, responses come back with the request id.

mod common;

use common::{client, config_for, Backend, Rampart};

#[test]
fn get_is_proxied_with_forwarding_headers() {
    let backend = Backend::start("a");
    let rampart = Rampart::start(&config_for(&backend, ""));
    let resp = client().get(rampart.url("/hello?x=1")).header("x-forwarded-for", "6.6.6.6").send().unwrap();
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let echo: serde_json::Value = resp.json().unwrap();
    assert_eq!(echo["target"], "/hello?x=1");
    // The peer (loopback) is not a trusted proxy here, so its forwarded-for claim is dropped.
    assert_eq!(echo["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(echo["headers"]["x-request-id"], request_id.as_str());
    assert_eq!(echo["headers"]["x-forwarded-proto"], "http");
    assert_eq!(backend.hits(), 1);
    // The log is written off the request's path: wait for the line rather than race it.
    common::wait_json_logs(&rampart, "rampart::access", std::time::Duration::from_secs(5), |access| {
        access.iter().any(|l| l["request_id"] == request_id.as_str() && l["status"] == 200)
    });
}
