//! Search, paging, contact pages, CSV export and the JSON API, over real HTTP.

mod common;

use common::{logged_in, opts, start};
use rampart_testbed::PAGE_SIZE;
use serde_json::Value;

#[tokio::test]
async fn search_pages_fifty_at_a_time() {
    let tb = start(opts()).await;
    let client = logged_in(&tb).await;
    let get = |page: u32| {
        let client = client.clone();
        let url = tb.url(&format!("/contacts?page={page}"));
        async move {
            let v: Value = client.get(url).header("accept", "application/json").send().await.unwrap().json().await.unwrap();
            v
        }
    };
    let first = get(1).await;
    assert_eq!(first["total"], 1000);
    assert_eq!(first["contacts"].as_array().unwrap().len(), PAGE_SIZE as usize);
    assert_eq!(first["contacts"][0]["id"], 1);
    let second = get(2).await;
    assert_eq!(second["contacts"][0]["id"], 51);
    let last = get(20).await;
    assert_eq!(last["contacts"].as_array().unwrap().len(), 50);
    assert_eq!(last["contacts"][49]["id"], 1000);
    assert!(get(21).await["contacts"].as_array().unwrap().is_empty());

    // The HTML page has the table and a next link, and none past the end.
    let html = client.get(tb.url("/contacts?page=1")).send().await.unwrap().text().await.unwrap();
    assert_eq!(html.matches("<tr><td><a href=\"/contacts/").count(), 50);
    assert!(html.contains("rel=\"next\" href=\"/contacts?q=&amp;page=2\""));
    let end = client.get(tb.url("/contacts?page=20")).send().await.unwrap().text().await.unwrap();
    assert!(!end.contains("rel=\"next\""));
}

#[tokio::test]
async fn search_filters_by_text() {
    let tb = start(opts()).await;
    let client = logged_in(&tb).await;
    let v: Value = client
        .get(tb.url("/contacts?q=riverside"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let total = v["total"].as_i64().unwrap();
    assert!(total > 0 && total < 1000, "{total}");
    for c in v["contacts"].as_array().unwrap() {
        assert_eq!(c["ward"], "Riverside");
    }
}

#[tokio::test]
async fn csv_export_has_header_and_one_line_per_match() {
    let tb = start(opts()).await;
    let client = logged_in(&tb).await;
    let res = client.get(tb.url("/export.csv")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let body = res.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 1001);
    assert_eq!(lines[0], "id,name,email,phone,postcode,ward,canvass_status,notes");
    assert!(lines[1].starts_with("1,"));

    let filtered: Value = client
        .get(tb.url("/contacts?q=Castle"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csv = client.get(tb.url("/export.csv?q=Castle")).send().await.unwrap().text().await.unwrap();
    assert_eq!(csv.lines().count() as i64, filtered["total"].as_i64().unwrap() + 1);
}

#[tokio::test]
async fn json_api_returns_an_array_of_contacts() {
    let tb = start(opts()).await;
    let client = logged_in(&tb).await;
    let v: Value = client.get(tb.url("/api/contacts?q=")).send().await.unwrap().json().await.unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 50);
    for field in ["id", "name", "email", "phone", "postcode", "ward", "canvass_status", "notes"] {
        assert!(arr[0].get(field).is_some(), "{field}");
    }
    let page3: Value = client.get(tb.url("/api/contacts?page=3")).send().await.unwrap().json().await.unwrap();
    assert_eq!(page3[0]["id"], 101);
}

#[tokio::test]
async fn contact_page_and_404() {
    let tb = start(opts()).await;
    let client = logged_in(&tb).await;
    let one: Value = client
        .get(tb.url("/contacts/7"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], 7);
    let html = client.get(tb.url("/contacts/7")).send().await.unwrap();
    assert_eq!(html.status(), 200);
    assert!(html.text().await.unwrap().contains("Canvass status"));
    for path in ["/contacts/1001", "/contacts/0", "/contacts/-3", "/contacts/abc", "/contacts/99999999999999999999", "/nope"] {
        assert_eq!(client.get(tb.url(path)).send().await.unwrap().status(), 404, "{path}");
    }
    let json404 = client.get(tb.url("/contacts/5000")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(json404.status(), 404);
    assert_eq!(json404.json::<Value>().await.unwrap()["error"], "not found");
}

#[tokio::test]
async fn home_and_health() {
    let tb = start(opts()).await;
    let client = common::plain_client();
    assert_eq!(client.get(tb.url("/healthz")).send().await.unwrap().text().await.unwrap(), "ok");
    let home: Value = client.get(tb.url("/")).header("accept", "application/json").send().await.unwrap().json().await.unwrap();
    assert_eq!(home["contacts"], 1000);
    assert!(home["signed_in_as"].is_null());
    let html = client.get(tb.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("/style.css"));
}
