//! Login, logout and the session requirement, over real HTTP.

mod common;

use common::{logged_in, opts, plain_client, start};
use rampart_testbed::{accounts, leaked_passwords, TestbedOptions, DEMO_PASSWORD, DEMO_USERNAME};

#[tokio::test]
async fn login_success_sets_session_and_redirects_to_contacts() {
    let tb = start(opts()).await;
    let client = plain_client();
    let res = client
        .post(tb.url("/login"))
        .form(&[("username", DEMO_USERNAME), ("password", DEMO_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/contacts");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("session=staff@campaign.example:"), "{cookie}");
    assert!(cookie.contains("HttpOnly"));
    let page = client.get(tb.url("/contacts")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-record-count"], "50", "a full search page");
    assert!(page.text().await.unwrap().contains("staff@campaign.example"));
}

#[tokio::test]
async fn login_failure_is_the_form_with_a_message_or_401_json() {
    let tb = start(opts()).await;
    let client = plain_client();
    for (user, pass) in [
        (DEMO_USERNAME, "wrong"),
        ("nobody@campaign.example", DEMO_PASSWORD),
        ("admin@campaign.example", DEMO_PASSWORD),
        ("", ""),
    ] {
        let res = client.post(tb.url("/login")).form(&[("username", user), ("password", pass)]).send().await.unwrap();
        assert_eq!(res.status(), 200, "{user}");
        assert!(res.headers().get("set-cookie").is_none());
        let body = res.text().await.unwrap();
        assert!(body.contains("invalid username or password"));
        assert!(body.contains("<form method=\"post\" action=\"/login\""));
    }
    let json = client
        .post(tb.url("/login"))
        .header("accept", "application/json")
        .form(&[("username", DEMO_USERNAME), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 401);
    let v: serde_json::Value = json.json().await.unwrap();
    assert_eq!(v["error"], "invalid username or password");
    // The protected page is still closed.
    assert_eq!(client.get(tb.url("/contacts")).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn leaked_pairs_for_real_users_do_not_log_in() {
    let tb = start(opts()).await;
    let client = plain_client();
    let real: Vec<&str> = accounts().iter().map(|a| a.username).collect();
    let sample: Vec<String> = leaked_passwords()
        .into_iter()
        .filter(|l| l.split_once(':').is_some_and(|(u, _)| real.contains(&u)))
        .take(25)
        .collect();
    assert_eq!(sample.len(), 25);
    for line in sample {
        let (u, p) = line.split_once(':').unwrap();
        let res = client.post(tb.url("/login")).form(&[("username", u), ("password", p)]).send().await.unwrap();
        assert_eq!(res.status(), 200, "{line}");
        assert!(res.headers().get("set-cookie").is_none(), "{line}");
    }
}

#[tokio::test]
async fn protected_pages_need_a_session() {
    let tb = start(opts()).await;
    let anon = plain_client();
    for path in ["/contacts", "/contacts/1", "/export.csv", "/api/contacts", "/contacts?q=a&page=2"] {
        let res = anon.get(tb.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
    let api = anon.get(tb.url("/api/contacts")).send().await.unwrap();
    assert!(api.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    for path in ["/", "/login", "/healthz", "/style.css"] {
        assert_eq!(anon.get(tb.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
    // A forged cookie is no session.
    let forged = anon
        .get(tb.url("/contacts"))
        .header("cookie", "session=staff@campaign.example:99999999999:00")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    // Logged in: open. Logged out again: closed.
    let client = logged_in(&tb).await;
    assert_eq!(client.get(tb.url("/export.csv")).send().await.unwrap().status(), 200);
    let out = client.post(tb.url("/logout")).send().await.unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(client.get(tb.url("/contacts")).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn require_login_false_opens_every_page() {
    let tb = start(TestbedOptions { require_login: false, ..opts() }).await;
    let anon = plain_client();
    for path in ["/contacts", "/contacts/1", "/export.csv", "/api/contacts"] {
        assert_eq!(anon.get(tb.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
}
