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

/// `forward_headers` per upstream: the pool that asks for `X-Forwarded-For` alone gets it alone
/// (and none of the client's forgeries), the other pool all five; the client gets its request
/// id from both.
#[test]
fn each_upstream_gets_the_forwarding_fields_it_names() {
    let full = Backend::start("full");
    let bare = Backend::start("bare");
    let config = format!(
        r#"
[[listener]]
address = "127.0.0.1:0"

[[upstream]]
name = "full"
servers = ["{full}"]

[[upstream]]
name = "bare"
servers = ["{bare}"]
forward_headers = ["x-forwarded-for"]

[[route]]
path = "/"
upstream = "full"

[[route]]
path = "/bare"
upstream = "bare"
"#,
        full = full.addr,
        bare = bare.addr
    );
    let rampart = Rampart::start(&config);
    let forged = [("x-forwarded-for", "6.6.6.6"), ("forwarded", "for=6.6.6.6"), ("x-forwarded-host", "evil.example"), ("x-request-id", "forged")];
    let get = |path: &str| {
        let mut req = client().get(rampart.url(path));
        for (name, value) in forged {
            req = req.header(name, value);
        }
        let resp = req.send().unwrap();
        assert_eq!(resp.status(), 200);
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(id, "forged");
        let echo: serde_json::Value = resp.json().unwrap();
        (id, echo["headers"].clone())
    };
    let host = rampart.base().trim_start_matches("http://").to_string();

    let (id, headers) = get("/");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], host.as_str());
    assert_eq!(headers["forwarded"], format!("for=127.0.0.1;proto=http;host=\"{host}\"").as_str());
    assert_eq!(headers["x-request-id"], id.as_str());

    let (_, headers) = get("/bare/x");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    for absent in ["x-forwarded-proto", "x-forwarded-host", "forwarded", "x-request-id"] {
        assert!(headers.get(absent).is_none(), "{absent} reached the upstream: {headers}");
    }
    assert_eq!((full.hits(), bare.hits()), (1, 1));
}
