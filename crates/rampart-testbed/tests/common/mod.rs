//! Shared helpers: start a testbed on `127.0.0.1:0`, make HTTP clients.
#![allow(dead_code)]

use std::sync::Arc;

use rampart_testbed::{serve, Testbed, TestbedOptions, DEMO_PASSWORD, DEMO_USERNAME};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A testbed serving on loopback; shuts down when dropped.
pub struct Running {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Small and quick to seed, still twenty pages.
pub fn opts() -> TestbedOptions {
    TestbedOptions { contacts: 1_000, ..TestbedOptions::default() }
}

/// Starts `opts` through the public `serve`.
pub async fn start(opts: TestbedOptions) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(listener, opts, async {
            let _ = stopped.await;
        })
        .await
        .expect("serve");
    });
    let running = Running { base, stop: Some(stop), task: Some(task) };
    wait_healthy(&running).await;
    running
}

/// Starts a prebuilt testbed's router, so the test can read its load gauge.
pub async fn start_router(opts: TestbedOptions) -> (Running, Arc<Testbed>) {
    let testbed = Arc::new(Testbed::new(opts).expect("testbed"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    let router = testbed.router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
    });
    let running = Running { base, stop: Some(stop), task: Some(task) };
    wait_healthy(&running).await;
    (running, testbed)
}

async fn wait_healthy(running: &Running) {
    // `serve` seeds before it accepts; the listener is already bound, so the
    // first request just waits in the backlog. One request is enough.
    let body = plain_client().get(running.url("/healthz")).send().await.expect("healthz").text().await.expect("body");
    assert_eq!(body, "ok");
}

/// A client with a cookie jar that does not follow redirects.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A client logged in as the demo account.
pub async fn logged_in(running: &Running) -> reqwest::Client {
    let client = plain_client();
    let res = client
        .post(running.url("/login"))
        .form(&[("username", DEMO_USERNAME), ("password", DEMO_PASSWORD)])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 303, "demo login must succeed");
    client
}
