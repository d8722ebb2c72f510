//! Safe mode resists injection and XSS; vulnerable mode really is vulnerable
//! (and only on loopback). Over real HTTP.

mod common;

use common::{logged_in, opts, start};
use rampart_testbed::{serve, TestbedError, TestbedOptions};
use serde_json::Value;

const SQLI: &str = "' OR 1=1 --";
const XSS: &str = "<script>alert(1)</script>";

fn vulnerable() -> TestbedOptions {
    TestbedOptions { vulnerable: true, ..opts() }
}

#[tokio::test]
async fn safe_mode_resists_sql_injection() {
    let tb = start(opts()).await;
    let client = logged_in(&tb).await;
    let api = client.get(tb.url("/api/contacts")).query(&[("q", SQLI)]).send().await.unwrap();
    assert_eq!(api.status(), 200);
    assert!(api.json::<Value>().await.unwrap().as_array().unwrap().is_empty());
    let csv = client.get(tb.url("/export.csv")).query(&[("q", SQLI)]).send().await.unwrap().text().await.unwrap();
    assert_eq!(csv.lines().count(), 1, "header only");
    let broken = client.get(tb.url("/api/contacts")).query(&[("q", "'")]).send().await.unwrap();
    assert_eq!(broken.status(), 200, "a quote is just a character");
}

#[tokio::test]
async fn safe_mode_escapes_reflected_input() {
    let tb = start(opts()).await;
    let client = logged_in(&tb).await;
    let res = client.get(tb.url("/contacts")).query(&[("q", XSS)]).send().await.unwrap();
    assert!(res.headers().get("content-security-policy").is_some());
    let body = res.text().await.unwrap();
    assert!(!body.contains(XSS));
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The login form's username echo is escaped too.
    let login = client
        .post(tb.url("/login"))
        .form(&[("username", "\"><script>x</script>"), ("password", "p")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!login.contains("<script>x</script>"));
}

#[tokio::test]
async fn vulnerable_mode_injection_returns_every_row() {
    let tb = start(vulnerable()).await;
    let client = logged_in(&tb).await;
    let all: Value = client.get(tb.url("/api/contacts")).query(&[("q", SQLI)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1000, "the injection comments out the page LIMIT");
    // UNION-based: the users table, with its password hashes, comes out.
    let union = "zzz' UNION SELECT 0, username, password_hash, password_salt, role, '', '', '' FROM users --";
    let users: Value = client.get(tb.url("/api/contacts")).query(&[("q", union)]).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = users.as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(names.contains(&"staff@campaign.example"), "{names:?}");
    // Error-based: SQLite's message leaks.
    let err = client.get(tb.url("/contacts")).query(&[("q", "'")]).send().await.unwrap();
    assert_eq!(err.status(), 500);
    assert!(err.text().await.unwrap().contains("database error"));
    // Still read-only: a stacked write does not run, the data is intact.
    let _ = client.get(tb.url("/api/contacts")).query(&[("q", "'; DELETE FROM contacts; --")]).send().await.unwrap();
    let csv = client.get(tb.url("/export.csv")).send().await.unwrap().text().await.unwrap();
    assert_eq!(csv.lines().count(), 1001);
}

#[tokio::test]
async fn vulnerable_mode_reflects_unescaped() {
    let tb = start(vulnerable()).await;
    let client = logged_in(&tb).await;
    let res = client.get(tb.url("/contacts")).query(&[("q", XSS)]).send().await.unwrap();
    assert!(res.headers().get("content-security-policy").is_none());
    assert!(res.text().await.unwrap().contains(&format!("Results for {XSS}")));
}

#[tokio::test]
async fn vulnerable_mode_is_refused_off_loopback() {
    // Bound but never connected to: serve must refuse before accepting.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let err = serve(listener, vulnerable(), async {}).await.unwrap_err();
    assert!(matches!(err, TestbedError::VulnerableNotLoopback { .. }), "{err}");
    assert!(err.to_string().contains("loopback"));
}
