//! The challenge: proof-of-work in the browser, a no-JavaScript fallback, and the clearance
//! it earns.
//!
//! Two halves share one [`ChallengeGate`]:
//!
//! * the gate ([`rampart_core::Gate`]) renders the interstitial page for a
//!   [`Verdict::Challenge`] and answers `POST /.rampart/challenge`, where a solved challenge
//!   becomes a clearance cookie and a redirect back;
//! * the [`ClearanceStage`] runs early in the pipeline and marks a request that carries a
//!   valid clearance (`ctx.identity.clearance`), so that later stages (the flood defence, the
//!   lanes) serve it ahead of anonymous traffic.
//!
//! # Protocol (for scripted clients that are allowed in)
//!
//! 1. A challenged request gets `403` with header `x-rampart-challenge: BITS` and, when it
//!    asked for JSON (`Accept: application/json`), a body
//!    `{"challenge": C, "bits": BITS, "wait": W, "wait_seconds": S, "submit": "/.rampart/challenge"}`.
//! 2. Find a decimal `N` such that `SHA-256(C ":" N)` starts with `BITS` zero bits.
//! 3. `POST /.rampart/challenge` with form fields `c=C&n=N&r=/path/to/return`, and the same
//!    `User-Agent` as in step 1. The answer is `303` to `r` with
//!    `Set-Cookie: rampart_clearance=…` (or, with `Accept: application/json`, `200` and
//!    `{"clearance": …, "cookie": "rampart_clearance", "expires": UNIX}`).
//! 4. Send the cookie (and the same `User-Agent`) with every later request.
//!
//! A client may also ask for a challenge before it meets one: `GET /.rampart/challenge`
//! (optionally `?r=/path/to/return`) answers `200` with the same page or JSON as step 1, so a
//! browser or a script can hold a clearance before an attack starts.
//!
//! Without JavaScript, post `c=W` (the wait challenge) after `S` seconds instead.
//!
//! A challenge can be redeemed once and within [`CHALLENGE_TTL`]; a clearance lasts
//! `clearance_ttl`, is bound to the `User-Agent`, and is revoked when it shows up from more
//! than `max_prefixes` distinct address prefixes (a clearance passed around a botnet).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use parking_lot::Mutex;
use rampart_core::{cookie_in, Gate, GateRequest, Reply, RequestContext, Stage, StageError, Verdict};

use crate::challenge_page::{render, PageInput};
use crate::clearance::{binding, solves, unix, Challenge, ChallengeKind, Clearance, Keys, CHALLENGE_TTL};
use crate::mitigation::{Mitigation, Mode};
use crate::rate_key::prefix_of;

/// The path prefix the gate owns.
pub const GATE_PREFIX: &str = "/.rampart/";
/// The endpoint a solved challenge is posted to.
pub const ENDPOINT: &str = "/.rampart/challenge";
/// The clearance cookie's name.
pub const COOKIE: &str = "rampart_clearance";
/// The response header that marks a challenge (its value: the bits asked for).
pub const HEADER: &str = "x-rampart-challenge";

/// How hard the proof-of-work is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difficulty {
    /// Raised with the mitigation mode and with how suspicious the client looks.
    Auto,
    /// Always this many leading zero bits.
    Fixed(u32),
}

/// How the gate behaves.
#[derive(Debug, Clone)]
pub struct ChallengeSettings {
    pub difficulty: Difficulty,
    /// How long a clearance lasts.
    pub clearance_ttl: Duration,
    /// How long the no-JavaScript path makes a visitor wait (doubled under attack).
    pub fallback_wait: Duration,
    /// A clearance seen from more distinct /24 (IPv4) or /64 (IPv6) prefixes than this is
    /// revoked.
    pub max_prefixes: usize,
    /// Path prefixes never challenged (API clients): the flood defence sheds there instead.
    pub exempt_paths: Vec<String>,
}

impl Default for ChallengeSettings {
    fn default() -> ChallengeSettings {
        ChallengeSettings {
            difficulty: Difficulty::Auto,
            clearance_ttl: Duration::from_secs(3600),
            fallback_wait: Duration::from_secs(5),
            max_prefixes: 8,
            exempt_paths: Vec::new(),
        }
    }
}

/// Base bits per mode under [`Difficulty::Auto`], and the most suspicion adds.
const AUTO_BITS: [u32; 3] = [14, 16, 18];
const SUSPICION_BITS: u32 = 2;
const MAX_BITS: u32 = 28;

/// Entries per generation in the bounded sets (spent nonces, clearance spread, revocations).
const GENERATION_CAP: usize = 200_000;

/// Counters for metrics and reports.
#[derive(Debug, Default)]
pub struct ChallengeCounts {
    pub issued: AtomicU64,
    pub solved: AtomicU64,
    pub failed: AtomicU64,
    pub revoked: AtomicU64,
}

/// Two generations of a bounded set: inserts go to the young one; when it fills or ages out,
/// the old one is dropped and the young one becomes old. Memory is at most two generations.
struct Generations<T> {
    young: HashSet<T>,
    old: HashSet<T>,
    born: Instant,
    max_age: Duration,
}

impl<T: std::hash::Hash + Eq> Generations<T> {
    fn new(max_age: Duration) -> Generations<T> {
        Generations { young: HashSet::new(), old: HashSet::new(), born: Instant::now(), max_age }
    }

    fn contains(&self, v: &T) -> bool {
        self.young.contains(v) || self.old.contains(v)
    }

    /// Insert; false when already present.
    fn insert(&mut self, v: T, now: Instant) -> bool {
        if self.contains(&v) {
            return false;
        }
        if self.young.len() >= GENERATION_CAP || now.duration_since(self.born) >= self.max_age {
            self.old = std::mem::take(&mut self.young);
            self.born = now;
        }
        self.young.insert(v)
    }

    fn bytes(&self) -> usize {
        (self.young.capacity() + self.old.capacity()) * (std::mem::size_of::<T>() + 8)
    }
}

/// The challenge issuer and verifier, shared by the gate and the clearance stage.
pub struct ChallengeGate {
    keys: Keys,
    settings: ChallengeSettings,
    mitigation: Arc<Mitigation>,
    spent: Mutex<Generations<String>>,
    /// (clearance id, prefix) pairs seen, and how many prefixes each id has been seen from.
    spread: Mutex<(Generations<(u64, u64)>, std::collections::HashMap<u64, u32>)>,
    revoked: Mutex<Generations<u64>>,
    pub counts: ChallengeCounts,
}

impl ChallengeGate {
    pub fn new(keys: Keys, settings: ChallengeSettings, mitigation: Arc<Mitigation>) -> ChallengeGate {
        let ttl = settings.clearance_ttl;
        ChallengeGate {
            keys,
            settings,
            mitigation,
            spent: Mutex::new(Generations::new(CHALLENGE_TTL * 2)),
            spread: Mutex::new((Generations::new(ttl), std::collections::HashMap::new())),
            revoked: Mutex::new(Generations::new(ttl * 2)),
            counts: ChallengeCounts::default(),
        }
    }

    pub fn settings(&self) -> &ChallengeSettings {
        &self.settings
    }

    /// Whether `path` is exempt from challenges (an API route).
    pub fn exempt(&self, path: &str) -> bool {
        self.settings.exempt_paths.iter().any(|p| path.starts_with(p.as_str()))
    }

    /// The proof-of-work bits for this request, now.
    pub fn bits_for(&self, headers: &HeaderMap) -> u32 {
        match self.settings.difficulty {
            Difficulty::Fixed(b) => b,
            Difficulty::Auto => {
                let base = AUTO_BITS[self.mitigation.mode() as usize];
                let ua = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
                let mut extra = 0;
                if !ua.starts_with("Mozilla/") {
                    extra += SUSPICION_BITS;
                }
                if !headers.contains_key(http::header::ACCEPT_LANGUAGE) {
                    extra += SUSPICION_BITS / 2;
                }
                (base + extra).min(MAX_BITS)
            }
        }
    }

    fn wait_seconds(&self) -> u32 {
        let base = self.settings.fallback_wait.as_secs().max(1) as u32;
        if self.mitigation.mode() == Mode::UnderAttack {
            base * 2
        } else {
            base
        }
    }

    /// The valid clearance a request carries, if any: MAC, expiry, binding, revocation, and
    /// the spread check (which may revoke it now).
    pub fn check_clearance(&self, headers: &HeaderMap, client: IpAddr, now: SystemTime) -> Option<Clearance> {
        let token = cookie_in(headers, COOKIE)?;
        let k = Clearance::parse(&self.keys, token)?;
        if k.expires <= unix(now) || k.bind != binding(user_agent(headers)) {
            return None;
        }
        let id = rampart_state::KeyHash::of_bytes(k.id.as_bytes()).value();
        if self.revoked.lock().contains(&id) {
            return None;
        }
        let prefix = rampart_state::KeyHash::of_ip(prefix_of(client.to_canonical()).network()).value();
        let mono = Instant::now();
        let too_spread = {
            let mut guard = self.spread.lock();
            let (seen, counts) = &mut *guard;
            if seen.insert((id, prefix), mono) {
                if counts.len() >= GENERATION_CAP {
                    counts.clear();
                }
                let n = counts.entry(id).or_insert(0);
                *n += 1;
                *n as usize > self.settings.max_prefixes
            } else {
                false
            }
        };
        if too_spread {
            self.revoked.lock().insert(id, mono);
            self.counts.revoked.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "rampart::challenge", clearance = %k.id, client = %client, "clearance revoked: seen from too many address prefixes");
            return None;
        }
        Some(k)
    }

    /// A fresh pair of challenges for this client.
    fn issue(&self, headers: &HeaderMap, now: SystemTime) -> (String, u32, String, u32) {
        let bind = binding(user_agent(headers));
        let bits = self.bits_for(headers);
        let wait = self.wait_seconds();
        let work = Challenge::new(ChallengeKind::Work { bits }, now, bind.clone()).token(&self.keys);
        let slow = Challenge::new(ChallengeKind::Wait { seconds: wait }, now, bind).token(&self.keys);
        self.counts.issued.fetch_add(1, Ordering::Relaxed);
        (work, bits, slow, wait)
    }

    fn challenge_reply(&self, headers: &HeaderMap, back: &str, request_id: &str, notice: &str, json: bool) -> Reply {
        let now = SystemTime::now();
        let (work, bits, wait, wait_seconds) = self.issue(headers, now);
        let (body, content_type) = if json {
            let v = serde_json::json!({
                "error": "challenge",
                "challenge": work,
                "bits": bits,
                "wait": wait,
                "wait_seconds": wait_seconds,
                "submit": ENDPOINT,
                "request_id": request_id,
            });
            (v.to_string(), "application/json")
        } else {
            let page = render(&PageInput {
                work: &work,
                bits,
                wait: &wait,
                wait_seconds,
                back,
                request_id,
                endpoint: ENDPOINT,
                notice,
            });
            (page, "text/html; charset=utf-8")
        };
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(HEADER, HeaderValue::from(bits));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-request-id", v);
        }
        Reply { status: StatusCode::FORBIDDEN, headers: h, body: body.into_bytes() }
    }

    /// Redeem a posted challenge: a clearance, or why not.
    fn redeem(&self, form: &Form, headers: &HeaderMap, now: SystemTime) -> Result<Clearance, &'static str> {
        let c = Challenge::parse(&self.keys, &form.c).ok_or("the challenge is not one we issued")?;
        if c.bind != binding(user_agent(headers)) {
            return Err("the challenge was issued to another browser");
        }
        let age = unix(now).saturating_sub(c.issued);
        match c.kind {
            ChallengeKind::Work { bits } => {
                if age > CHALLENGE_TTL.as_secs() {
                    return Err("the challenge expired");
                }
                if !solves(&form.c, &form.n, bits) {
                    return Err("the answer does not solve the challenge");
                }
            }
            ChallengeKind::Wait { seconds } => {
                if age < u64::from(seconds) {
                    return Err("sent before the wait was over");
                }
                if age > u64::from(seconds) + CHALLENGE_TTL.as_secs() {
                    return Err("the challenge expired");
                }
            }
        }
        if !self.spent.lock().insert(c.nonce.clone(), Instant::now()) {
            return Err("the challenge was already used");
        }
        Ok(Clearance::new(now, self.settings.clearance_ttl, c.bind))
    }

    /// Bytes of the bounded sets, for the memory gauge.
    pub fn memory_bytes(&self) -> usize {
        self.spent.lock().bytes() + self.spread.lock().0.bytes() + self.revoked.lock().bytes()
    }
}

impl Gate for ChallengeGate {
    fn owns(&self, path: &str) -> bool {
        path.starts_with(GATE_PREFIX)
    }

    fn answer(&self, req: &GateRequest<'_>) -> Reply {
        let json = wants_json(req.headers);
        if req.path == ENDPOINT && req.method == Method::GET {
            // A challenge asked for ahead of time: a browser or a scripted client can earn its
            // clearance before it is ever challenged (while the site is calm, say).
            let back = req.query.and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "r").map(|(_, v)| v.into_owned()));
            let mut reply = self.challenge_reply(req.headers, safe_back(back.as_deref().unwrap_or("/")), "-", "", json);
            reply.status = StatusCode::OK;
            return reply;
        }
        if req.path != ENDPOINT || req.method != Method::POST {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        }
        let form = Form::parse(req.body);
        let back = safe_back(&form.r);
        let now = SystemTime::now();
        match self.redeem(&form, req.headers, now) {
            Ok(k) => {
                self.counts.solved.fetch_add(1, Ordering::Relaxed);
                let token = k.token(&self.keys);
                let max_age = self.settings.clearance_ttl.as_secs();
                let secure = if req.tls.is_some() { "; Secure" } else { "" };
                let cookie = format!("{COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
                tracing::info!(target: "rampart::challenge", client = %req.client, clearance = %k.id, "challenge solved; clearance granted");
                let mut h = HeaderMap::new();
                h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    h.insert(SET_COOKIE, v);
                }
                if json {
                    let body = serde_json::json!({"clearance": token, "cookie": COOKIE, "expires": k.expires});
                    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    Reply { status: StatusCode::OK, headers: h, body: body.to_string().into_bytes() }
                } else {
                    if let Ok(v) = HeaderValue::from_str(back) {
                        h.insert(LOCATION, v);
                    }
                    Reply { status: StatusCode::SEE_OTHER, headers: h, body: Vec::new() }
                }
            }
            Err(why) => {
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(target: "rampart::challenge", client = %req.client, reason = why, "challenge answer refused");
                let notice = format!("That did not work ({why}); please try again.");
                self.challenge_reply(req.headers, back, "-", &notice, json)
            }
        }
    }

    fn challenge(&self, ctx: &RequestContext, reason: &str, json: bool) -> Reply {
        let back = ctx.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let back = if ctx.method == Method::GET { safe_back(back) } else { "/" };
        let _ = reason;
        self.challenge_reply(&ctx.headers, back, &ctx.id.0, "This site is checking visitors right now.", json)
    }
}

/// Marks requests that carry a valid clearance (`ctx.identity.clearance`). Never refuses:
/// what a missing clearance costs is decided by the stages that read it.
pub struct ClearanceStage {
    gate: Arc<ChallengeGate>,
}

impl ClearanceStage {
    pub fn new(gate: Arc<ChallengeGate>) -> ClearanceStage {
        ClearanceStage { gate }
    }
}

impl Stage for ClearanceStage {
    fn name(&self) -> &'static str {
        "challenge"
    }

    fn memory_bytes(&self) -> usize {
        self.gate.memory_bytes()
    }

    fn identifies(&self) -> bool {
        true
    }

    fn reads_request_headers_late(&self) -> bool {
        false
    }

    fn on_request_headers(&self, ctx: &mut RequestContext) -> Result<Verdict, StageError> {
        if let Some(k) = self.gate.check_clearance(&ctx.headers, ctx.client, ctx.wall_clock) {
            ctx.identity.clearance = Some(Arc::from(k.id.as_str()));
        }
        Ok(Verdict::Continue)
    }
}

/// The fields of the endpoint's form (`application/x-www-form-urlencoded`), decoded.
struct Form {
    c: String,
    n: String,
    r: String,
}

impl Form {
    fn parse(body: &[u8]) -> Form {
        let mut f = Form { c: String::new(), n: String::new(), r: "/".into() };
        for (k, v) in form_urlencoded::parse(body) {
            match &*k {
                "c" => f.c = v.into_owned(),
                "n" => f.n = v.into_owned(),
                "r" => f.r = v.into_owned(),
                _ => {}
            }
        }
        f
    }
}

/// `r` as a local path, or `/`: the gate never redirects off-site (no open redirect).
fn safe_back(r: &str) -> &str {
    let local = r.starts_with('/') && !r.starts_with("//") && !r.starts_with("/\\");
    let lower = r.to_ascii_lowercase();
    let clean = r.bytes().all(|b| b.is_ascii_graphic()) && !lower.starts_with("/%2f") && !lower.starts_with("/%5c");
    if local && clean && !r.starts_with(GATE_PREFIX) {
        r
    } else {
        "/"
    }
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(USER_AGENT).and_then(|v| v.to_str().ok())
}

fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

fn plain(status: StatusCode, text: &str) -> Reply {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Reply { status, headers: h, body: text.as_bytes().to_vec() }
}

#[cfg(test)]
mod tests;
