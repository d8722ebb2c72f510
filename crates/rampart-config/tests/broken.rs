//! A file with a dozen mistakes across sections: every one is reported, at its line.

mod common;

use rampart_config::{parse, ErrorKind};

const BROKEN: &str = r#"[server]
trusted_proxies = ["10.0.0.0/33"]
client_address = "x-forwarded"

[[listener]]
address = "0.0.0.0:8080"

[[listener]]
address = "0.0.0.0:8080"

[limits]
max_connections = 100
max_connections_per_client = 500
header_read_timeout = "10"

[[upstream]]
name = "app"
servers = ["127.0.0.1:9100"]

[[route]]
path = "/"
upstream = "ap"

[[rate_limit]]
rate = "20/s"
burts = 40
action = "throttel"

[[exfiltration]]
route = "/contacts"
budget = { records = 500, per = "10m" }

[waf]
rules = ["missing/*.conf"]
paranoia = 5

[admin]
address = "0.0.0.0:9090"
token_file = "admin.token"
"#;

#[test]
fn every_mistake_is_reported_at_its_line() {
    let dir = common::scratch("broken");
    let errors = parse(BROKEN, &dir.join("rampart.toml")).expect_err("broken");
    let expected: &[(usize, ErrorKind, &str)] = &[
        (2, ErrorKind::InvalidValue, "`trusted_proxies`: expected a network"),
        (3, ErrorKind::InvalidValue, "`client_address`: expected `peer`, `x-forwarded-for`, `forwarded` or `proxy-protocol`, found \"x-forwarded\", did you mean `forwarded`?"),
        (9, ErrorKind::Duplicate, "listener address 0.0.0.0:8080 is already used by the listener on line 6"),
        (13, ErrorKind::Inconsistent, "`max_connections_per_client` (500) is larger than `max_connections` (100)"),
        (14, ErrorKind::InvalidValue, "`header_read_timeout`: expected a duration such as \"250ms\", \"10s\" or \"5m\", found \"10\""),
        (22, ErrorKind::UnknownReference, "route's `upstream = \"ap\"` names no [[upstream]], did you mean `app`?"),
        (26, ErrorKind::UnknownKey, "unknown key `burts` in [[rate_limit]], did you mean `burst`?"),
        (27, ErrorKind::InvalidValue, "`action`: expected `throttle`, `block` or `challenge`, found \"throttel\", did you mean `throttle`?"),
        (30, ErrorKind::UnknownReference, "`route`: no [[route]] has the name or path \"/contacts\""),
        (34, ErrorKind::File, "matches no file"),
        (35, ErrorKind::InvalidValue, "`paranoia`: expected a whole number from 1 to 4, found 5"),
        (38, ErrorKind::Inconsistent, "admin `address` 0.0.0.0:9090 is not a loopback address"),
        (39, ErrorKind::File, "`token_file`: cannot read"),
    ];
    let text = errors.to_string();
    for (line, kind, needle) in expected {
        assert!(
            errors.iter().any(|e| e.line == *line && e.kind == *kind && e.message.contains(needle)),
            "missing on line {line} ({kind:?}): {needle}\n--- got:\n{text}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "unexpected extra errors:\n{text}");
    // Sorted by position, one `file:line:column: message` per line.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len());
    assert!(lines[0].ends_with("rampart.toml:2:20: `trusted_proxies`: expected a network such as \"10.0.0.0/8\", \"2001:db8::/32\" or an address, found \"10.0.0.0/33\"")
        || lines[0].contains("rampart.toml:2:"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unreadable_config_file_is_one_error_without_position() {
    let errors = rampart_config::load(std::path::Path::new("/nonexistent/rampart.toml")).expect_err("missing");
    assert_eq!(errors.to_string(), "/nonexistent/rampart.toml: cannot read the configuration file: no such file");
}
