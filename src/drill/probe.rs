//! The legitimate-user probe: a few users at a low, steady rate doing ordinary requests while
//! the attack runs — optionally as staff (a staff-network source address, a session cookie or
//! header) — and what they saw: success rate and latency.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, COOKIE, HOST, USER_AGENT};
use hyper::Request;

use super::client::{Body, Connection};
use super::solver;
use super::tally::{Outcome, Tally};

/// What the probe does.
#[derive(Debug, Clone)]
pub struct Probe {
    pub to: SocketAddr,
    pub authority: String,
    pub path: String,
    /// The address users bind, or the network whose addresses they take in turn.
    pub source: Option<ipnet::IpNet>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The `Cookie` header, cookies joined with `; `.
    pub cookie: Option<HeaderValue>,
    pub users: usize,
    /// Requests per second of each user.
    pub rate: u32,
    pub timeout: Duration,
    /// Solve challenges and keep the clearance (`--probe-solve`).
    pub solve: bool,
}

/// A browser-like User-Agent: the probe stands for real users, not for a tool.
const PROBE_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rampart-drill probe) Gecko/20100101 Firefox/128.0";

impl Probe {
    fn request(&self, clearance: Option<&HeaderValue>) -> Request<Body> {
        let mut b = Request::get(self.path.as_str()).header(HOST, self.authority.as_str()).header(USER_AGENT, PROBE_AGENT);
        for (n, v) in &self.headers {
            b = b.header(n, v);
        }
        if let Some(c) = &self.cookie {
            b = b.header(COOKIE, c);
        }
        if let Some(c) = clearance {
            b = b.header(COOKIE, c);
        }
        b.body(Full::new(Bytes::new())).unwrap_or_else(|_| Request::new(Full::new(Bytes::new())))
    }
}

/// Run the probe's users until `finished` is set or `deadline` passes.
pub async fn run(probe: Probe, tally: Arc<Tally>, finished: Arc<AtomicBool>, deadline: Instant) {
    let probe = Arc::new(probe);
    let period = Duration::from_secs(1) / probe.rate.max(1);
    let users: Vec<_> = (0..probe.users)
        .map(|u| {
            let (probe, tally, finished) = (Arc::clone(&probe), Arc::clone(&tally), Arc::clone(&finished));
            // Users start spread over one period, not all on the same tick.
            let offset = period * u as u32 / probe.users.max(1) as u32;
            let source = probe.source.map(|net| nth_address(net, u));
            tokio::spawn(async move { user(&probe, source, &tally, &finished, deadline, period, offset).await })
        })
        .collect();
    for u in users {
        let _ = u.await;
    }
}

/// The `n`-th address of `net`, wrapping round to its first.
fn nth_address(net: ipnet::IpNet, n: usize) -> IpAddr {
    match net {
        ipnet::IpNet::V4(v4) => {
            let size = 1u64 << (32 - u32::from(v4.prefix_len()));
            let base = u32::from(v4.network());
            IpAddr::from(std::net::Ipv4Addr::from(base.wrapping_add((n as u64 % size) as u32)))
        }
        ipnet::IpNet::V6(v6) => {
            let bits = 128 - u32::from(v6.prefix_len());
            let offset = if bits >= 64 { n as u128 } else { n as u128 % (1u128 << bits) };
            IpAddr::from(std::net::Ipv6Addr::from(u128::from(v6.network()).wrapping_add(offset)))
        }
    }
}

async fn user(
    probe: &Probe,
    source: Option<IpAddr>,
    tally: &Tally,
    finished: &AtomicBool,
    deadline: Instant,
    period: Duration,
    offset: Duration,
) {
    let mut ticks = tokio::time::interval_at((Instant::now() + offset).into(), period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut conn: Option<Connection> = None;
    let mut clearance: Option<HeaderValue> = None;
    if probe.solve {
        // A clearance holder: it passed the challenge before the attack (asked for one ahead of
        // time), as the browsers of a site's regular visitors have. Not counted as a request.
        let asked = Instant::now();
        if let Ok(mut c) = Connection::open(probe.to, source, probe.timeout).await {
            clearance = solver::clearance_ahead(&mut c, &probe.authority, PROBE_AGENT, probe.timeout).await;
            if clearance.is_some() {
                tally.earned(asked, asked.elapsed(), true);
            }
            conn = Some(c);
        }
    }
    loop {
        ticks.tick().await;
        if finished.load(Ordering::Relaxed) || Instant::now() >= deadline {
            return;
        }
        let started = Instant::now();
        // A keep-alive connection the server has closed since is replaced, as a browser does.
        if let Some(c) = conn.as_mut() {
            if !c.ready(Duration::from_millis(1)).await {
                conn = None;
            }
        }
        if conn.is_none() {
            match Connection::open(probe.to, source, probe.timeout).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tally.record(Outcome::Error(e), started.elapsed());
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let left = probe.timeout.saturating_sub(started.elapsed());
        let (mut outcome, _) = c.exchange(probe.request(clearance.as_ref()), left).await;
        if outcome == Outcome::Challenged && probe.solve {
            // As a browser: solve, keep the cookie, and load the page again, within the deadline.
            let left = probe.timeout.saturating_sub(started.elapsed());
            let asked = Instant::now();
            clearance = solver::clearance(c, &probe.authority, PROBE_AGENT, &probe.path, left).await;
            if clearance.is_some() {
                tally.earned(asked, asked.elapsed(), false);
                let left = probe.timeout.saturating_sub(started.elapsed());
                outcome = c.exchange(probe.request(clearance.as_ref()), left).await.0;
            }
        }
        tally.record(outcome, started.elapsed());
        if matches!(outcome, Outcome::Error(_)) {
            conn = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::nth_address;

    #[test]
    fn users_take_the_addresses_of_a_network_in_turn() {
        let net: ipnet::IpNet = "127.0.2.0/30".parse().unwrap();
        let got: Vec<String> = (0..5).map(|n| nth_address(net, n).to_string()).collect();
        assert_eq!(got, ["127.0.2.0", "127.0.2.1", "127.0.2.2", "127.0.2.3", "127.0.2.0"]);
        let one = ipnet::IpNet::from("127.0.0.2".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(nth_address(one, 7).to_string(), "127.0.0.2");
        let v6: ipnet::IpNet = "fd00::/126".parse().unwrap();
        assert_eq!(nth_address(v6, 5).to_string(), "fd00::1");
    }
}
