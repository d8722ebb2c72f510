//! The capacity limit bounds concurrency. Counts only: no timing assertions.

mod common;

use std::time::Duration;

use common::{plain_client, start_router};
use rampart_testbed::TestbedOptions;

async fn burst(base: &str, n: usize) -> Vec<u16> {
    let client = plain_client();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let client = client.clone();
            let url = format!("{base}/contacts/{}", i + 1);
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status().as_u16()).unwrap_or(0) })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses
}

#[tokio::test]
async fn max_concurrent_bounds_requests_in_flight() {
    let opts = TestbedOptions {
        contacts: 100,
        require_login: false,
        max_concurrent: Some(3),
        work_delay: Some(Duration::from_millis(50)),
        ..TestbedOptions::default()
    };
    let (tb, testbed) = start_router(opts).await;
    let statuses = burst(&tb.base, 30).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let load = testbed.load();
    assert_eq!(load.served, 30, "every request was served, the excess waited");
    assert!(load.peak_in_flight <= 3, "peak {}", load.peak_in_flight);
    assert!(load.peak_in_flight >= 1);
    assert_eq!(load.in_flight, 0);
    // /healthz is outside the limit and not counted.
    assert_eq!(plain_client().get(tb.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(testbed.load().served, 30);
}

#[tokio::test]
async fn without_a_limit_the_same_burst_overlaps() {
    // The control: the same burst with no limit (and a long hold so the
    // requests overlap) exceeds the 3 the limited run never exceeded.
    let opts = TestbedOptions {
        contacts: 100,
        require_login: false,
        max_concurrent: None,
        work_delay: Some(Duration::from_millis(300)),
        ..TestbedOptions::default()
    };
    let (tb, testbed) = start_router(opts).await;
    let statuses = burst(&tb.base, 30).await;
    assert!(statuses.iter().all(|s| *s == 200));
    assert!(testbed.load().peak_in_flight > 3, "peak {}", testbed.load().peak_in_flight);
}
