//! The challenge, solved the way a scripted client allowed in solves it (the protocol in the
//! README): ask for the challenge as JSON, find the proof of work, redeem it at
//! `POST /.rampart/challenge`, keep the clearance cookie. The probe uses it with `--probe-solve`
//! to stand for clearance holders: users whose browser has passed the challenge.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request};

use super::client::Connection;

/// The most a challenge's JSON or the redemption's answer may be.
const MAX_ANSWER: usize = 16 * 1024;
/// Challenges harder than this are not worth solving here (2^28 hashes: minutes).
const MAX_BITS: u32 = 28;

/// Get a clearance cookie (`name=token`) for `path` on `conn`, asking `path` itself for the
/// challenge it met: `None` if any step fails or `deadline` passes.
pub async fn clearance(conn: &mut Connection, authority: &str, agent: &str, path: &str, deadline: Duration) -> Option<HeaderValue> {
    tokio::time::timeout(deadline, solve(conn, authority, agent, path)).await.ok().flatten()
}

/// Get a clearance cookie before meeting any challenge, as a browser that passed one earlier
/// does: `GET /.rampart/challenge` asks for one ahead of time.
pub async fn clearance_ahead(conn: &mut Connection, authority: &str, agent: &str, deadline: Duration) -> Option<HeaderValue> {
    tokio::time::timeout(deadline, solve(conn, authority, agent, rampart_shield::challenge::ENDPOINT)).await.ok().flatten()
}

/// Ask `ask` for a challenge (as JSON), solve it, redeem it.
async fn solve(conn: &mut Connection, authority: &str, agent: &str, ask: &str) -> Option<HeaderValue> {
    let ask = Request::get(ask)
        .header(HOST, authority)
        .header(USER_AGENT, agent)
        .header(ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .ok()?;
    let challenge: serde_json::Value = serde_json::from_slice(&conn.fetch(ask, MAX_ANSWER).await?).ok()?;
    let c = challenge.get("challenge")?.as_str()?.to_string();
    let bits = u32::try_from(challenge.get("bits")?.as_u64()?).ok().filter(|b| *b <= MAX_BITS)?;
    // The work itself is CPU-bound: off the probe's runtime thread.
    let work = c.clone();
    let n = tokio::task::spawn_blocking(move || (0u64..).find(|n| rampart_shield::clearance::solves(&work, &n.to_string(), bits)))
        .await
        .ok()??;
    let form = format!("c={}&n={n}&r=%2F", percent_encoding::utf8_percent_encode(&c, percent_encoding::NON_ALPHANUMERIC));
    let redeem = Request::builder()
        .method(Method::POST)
        .uri("/.rampart/challenge")
        .header(HOST, authority)
        .header(USER_AGENT, agent)
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .ok()?;
    let granted: serde_json::Value = serde_json::from_slice(&conn.fetch(redeem, MAX_ANSWER).await?).ok()?;
    let cookie = format!("{}={}", granted.get("cookie")?.as_str()?, granted.get("clearance")?.as_str()?);
    HeaderValue::from_str(&cookie).ok()
}

impl Connection {
    /// Send `request` and read its body (at most `max` bytes): `None` on any failure.
    pub async fn fetch(&mut self, request: Request<Full<Bytes>>, max: usize) -> Option<Bytes> {
        self.sender().ready().await.ok()?;
        let response = self.sender().send_request(request).await.ok()?;
        let limited = http_body_util::Limited::new(response.into_body(), max);
        limited.collect().await.ok().map(|b| b.to_bytes())
    }
}
