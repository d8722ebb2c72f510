//! The CRS in blocking mode (`SecRuleEngine On`, anomaly scoring as shipped): an attack is
//! interrupted by 949110 with 403 once its inbound score reaches the threshold; a benign
//! request passes; a response leak is caught by 959100 in phase 4.

use std::path::Path;
use std::sync::Arc;

use rampart_waf::ftw::crs;
use rampart_waf::{Builder, Engine};

fn engine() -> Arc<Engine> {
    let crs_dir = crs::shared_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).join("crs");
    let setup = "SecRuleEngine On\nSecRequestBodyAccess On\nSecResponseBodyAccess On\n\
                 SecResponseBodyMimeType text/plain text/html";
    let mut b = Builder::new();
    crs::load_crs(&mut b, &crs_dir, setup, "").expect("CRS loads");
    Arc::new(b.build().expect("engine"))
}

fn start(e: &Arc<Engine>, uri: &str) -> rampart_waf::Transaction {
    let mut tx = e.transaction();
    tx.process_connection("192.0.2.10", 51000, "192.0.2.1", 443);
    tx.process_uri(uri, "GET", "HTTP/1.1");
    tx.add_request_header("Host", "app.example.org");
    tx.add_request_header("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0");
    tx.add_request_header("Accept", "text/html");
    tx
}

#[test]
fn sql_injection_is_blocked_by_anomaly_score() {
    let e = engine();
    let mut tx = start(&e, "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--");
    assert!(tx.process_request_headers().is_none(), "phase 1 does not block");
    let i = tx.process_request_body().expect("blocked in phase 2");
    assert_eq!((i.status, i.rule_id, i.phase), (403, 949110, 2));
    let ids: Vec<u64> = tx.matched_rules().iter().map(|r| r.id).collect();
    assert!(ids.iter().any(|id| (942000..943000).contains(id)), "{ids:?}");
    let score: u32 = tx.tx_var("blocking_inbound_anomaly_score").and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!(score >= 5, "score {score}");
    tx.process_logging();
}

#[test]
fn benign_request_passes() {
    let e = engine();
    let mut tx = start(&e, "/contacts?page=2&sort=name");
    assert!(tx.process_request_headers().is_none());
    assert!(tx.process_request_body().is_none());
    tx.add_response_header("Content-Type", "text/html; charset=utf-8");
    assert!(tx.process_response_headers(200, "HTTP/1.1").is_none());
    tx.append_response_body(b"<html><body>Contacts</body></html>");
    assert!(tx.process_response_body().is_none());
    tx.process_logging();
    let logged: Vec<u64> = tx.matched_rules().iter().filter(|r| r.log).map(|r| r.id).collect();
    assert!(logged.is_empty(), "{logged:?}");
}

#[test]
fn sql_error_leak_is_blocked_in_the_response() {
    let e = engine();
    let mut tx = start(&e, "/contacts?id=7");
    assert!(tx.process_request_headers().is_none());
    assert!(tx.process_request_body().is_none());
    tx.add_response_header("Content-Type", "text/html");
    assert!(tx.process_response_headers(500, "HTTP/1.1").is_none());
    tx.append_response_body(b"<b>Warning</b>: mysql_fetch_array() expects parameter 1 to be resource, You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version");
    let i = tx.process_response_body().expect("blocked in phase 4");
    assert_eq!((i.rule_id, i.phase), (959100, 4));
}
