//! `[[priority]]`: who gets served first when capacity is short.
//!
//! The [`PriorityStage`] runs first in the pipeline and puts each request in a class: the
//! first rule that matches wins, unmatched requests are [`PUBLIC_CLASS`]. A rule matches a
//! client network, or a cookie or header — whose value, when the rule says `verify`, must be
//! an HS256 JWT signed with the configured key, unexpired (its `sub` becomes the request's
//! verified subject). An unverifiable marker is ignored, not refused: a forged staff cookie
//! makes its bearer public, nothing more.
//!
//! The stage never refuses a request; the class is read by later stages (the flood defence
//! never challenges a priority class; the login guard judges staff apart) and by the proxy's
//! admission lanes.

use std::sync::Arc;
use std::time::SystemTime;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use rampart_core::{RequestContext, Stage, StageError, Verdict, PUBLIC_CLASS};
use sha2::Sha256;

use crate::cidr_set::CidrSet;
use crate::clearance::unix;

/// Where a rule looks for its marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    Cookie(String),
    /// A header name, lower-case.
    Header(String),
}

/// One `[[priority]]` rule.
#[derive(Clone)]
pub struct PriorityRule {
    pub class: Arc<str>,
    pub networks: Vec<IpNet>,
    pub marker: Option<Marker>,
    /// The HS256 key the marker's JWT must be signed with; `None` trusts the marker's presence.
    pub jwt_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for PriorityRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PriorityRule")
            .field("class", &self.class)
            .field("networks", &self.networks)
            .field("marker", &self.marker)
            .field("verified", &self.jwt_key.is_some())
            .finish()
    }
}

struct CompiledRule {
    rule: PriorityRule,
    networks: CidrSet,
}

/// Puts every request in its priority class.
pub struct PriorityStage {
    rules: Vec<CompiledRule>,
    classes: Vec<Arc<str>>,
}

impl PriorityStage {
    pub fn new(rules: Vec<PriorityRule>) -> PriorityStage {
        let mut classes: Vec<Arc<str>> = Vec::new();
        for r in &rules {
            if !classes.contains(&r.class) {
                classes.push(Arc::clone(&r.class));
            }
        }
        let rules = rules
            .into_iter()
            .map(|rule| CompiledRule { networks: CidrSet::new(rule.networks.iter().copied()), rule })
            .collect();
        PriorityStage { rules, classes }
    }

    /// The configured classes, in the order their first rule appears (highest first).
    pub fn classes(&self) -> &[Arc<str>] {
        &self.classes
    }

    /// The class and verified subject for a request.
    pub fn classify(&self, ctx: &RequestContext) -> Option<(Arc<str>, Option<Arc<str>>)> {
        let now = unix(ctx.wall_clock);
        for r in &self.rules {
            if r.networks.contains(ctx.client) {
                return Some((Arc::clone(&r.rule.class), None));
            }
            let value = match &r.rule.marker {
                Some(Marker::Cookie(name)) => ctx.cookie(name),
                Some(Marker::Header(name)) => ctx.header(name),
                None => None,
            };
            let Some(value) = value else { continue };
            match &r.rule.jwt_key {
                None => return Some((Arc::clone(&r.rule.class), None)),
                Some(key) => {
                    if let Some(sub) = verify_hs256(value, key, now) {
                        return Some((Arc::clone(&r.rule.class), sub.map(Arc::from)));
                    }
                }
            }
        }
        None
    }
}

impl Stage for PriorityStage {
    fn name(&self) -> &'static str {
        "priority"
    }

    fn identifies(&self) -> bool {
        true
    }

    fn reads_request_headers_late(&self) -> bool {
        false
    }

    fn on_request_headers(&self, ctx: &mut RequestContext) -> Result<Verdict, StageError> {
        if let Some((class, subject)) = self.classify(ctx) {
            ctx.identity.class = class;
            ctx.identity.subject = subject;
        }
        Ok(Verdict::Continue)
    }
}

/// The rank of a class for admission: 0 for the highest configured class, then the others in
/// order, then clearance holders, then the public.
pub fn rank(classes: &[Arc<str>], identity: &rampart_core::Identity) -> usize {
    if &*identity.class != PUBLIC_CLASS {
        if let Some(i) = classes.iter().position(|c| *c == identity.class) {
            return i;
        }
    }
    if identity.clearance.is_some() {
        classes.len()
    } else {
        classes.len() + 1
    }
}

/// Check an HS256 JWT: header `alg` must be `HS256`, the signature must verify under `key`,
/// and `exp`/`nbf`, when present, must hold at `now`. `Some(sub)` (the subject, when the
/// token has one) for a valid token, `None` otherwise.
pub fn verify_hs256(token: &str, key: &[u8], now: u64) -> Option<Option<String>> {
    let mut parts = token.split('.');
    let (h64, p64, s64) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h64).ok()?).ok()?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(s64).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(h64.as_bytes());
    mac.update(b".");
    mac.update(p64.as_bytes());
    mac.verify_slice(&sig).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p64).ok()?).ok()?;
    let num = |k: &str| claims.get(k).and_then(|v| v.as_f64());
    if num("exp").is_some_and(|exp| (now as f64) >= exp) || num("nbf").is_some_and(|nbf| (now as f64) < nbf) {
        return None;
    }
    Some(claims.get("sub").and_then(|s| s.as_str()).map(str::to_string))
}

/// Sign claims as an HS256 JWT: for tests, the testbed's staff sessions and tools.
pub fn sign_hs256(claims: &serde_json::Value, key: &[u8]) -> String {
    let h64 = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let p64 = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(h64.as_bytes());
    mac.update(b".");
    mac.update(p64.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{h64}.{p64}.{sig}")
}

/// The current time for JWT checks.
pub fn now_unix() -> u64 {
    unix(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use http::Method;
    use serde_json::json;

    use super::*;

    const KEY: &[u8] = b"a staff session key of reasonable length";

    fn stage() -> PriorityStage {
        PriorityStage::new(vec![
            PriorityRule {
                class: Arc::from("staff"),
                networks: vec!["198.51.100.0/24".parse().unwrap()],
                marker: None,
                jwt_key: None,
            },
            PriorityRule {
                class: Arc::from("staff"),
                networks: vec![],
                marker: Some(Marker::Cookie("session".into())),
                jwt_key: Some(KEY.to_vec()),
            },
            PriorityRule {
                class: Arc::from("partner"),
                networks: vec![],
                marker: Some(Marker::Header("x-partner".into())),
                jwt_key: None,
            },
        ])
    }

    fn ctx(client: &str, cookie: Option<&str>) -> RequestContext {
        let mut ctx = RequestContext::for_test(Method::GET, "/", client.parse().unwrap());
        if let Some(c) = cookie {
            ctx.headers.insert(http::header::COOKIE, format!("session={c}").parse().unwrap());
        }
        ctx
    }

    fn run(s: &PriorityStage, mut c: RequestContext) -> rampart_core::Identity {
        assert_eq!(s.on_request_headers(&mut c).unwrap(), Verdict::Continue);
        c.identity
    }

    #[test]
    fn networks_and_verified_sessions_are_staff() {
        let s = stage();
        assert_eq!(&*run(&s, ctx("198.51.100.7", None)).class, "staff");
        let jwt = sign_hs256(&json!({"sub": "alice", "exp": now_unix() + 60}), KEY);
        let id = run(&s, ctx("203.0.113.9", Some(&jwt)));
        assert_eq!((&*id.class, id.subject.as_deref()), ("staff", Some("alice")));
        assert!(run(&s, ctx("203.0.113.9", None)).is_public());
    }

    #[test]
    fn forged_expired_and_foreign_tokens_are_public() {
        let s = stage();
        let expired = sign_hs256(&json!({"sub": "alice", "exp": now_unix() - 1}), KEY);
        let foreign = sign_hs256(&json!({"sub": "mallory"}), b"another key entirely, also long");
        let valid = sign_hs256(&json!({"sub": "alice"}), KEY);
        let (h, _, sig) = {
            let mut p = valid.split('.');
            (p.next().unwrap().to_string(), p.next(), p.next().unwrap().to_string())
        };
        let tampered = format!("{h}.{}.{sig}", URL_SAFE_NO_PAD.encode(br#"{"sub":"root"}"#));
        let none_alg = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(b"{}"));
        for bad in [expired, foreign, tampered, none_alg, "garbage".into()] {
            assert!(run(&s, ctx("203.0.113.9", Some(&bad))).is_public(), "{bad}");
        }
    }

    #[test]
    fn unverified_markers_trust_presence_and_ranks_order_classes() {
        let s = stage();
        let mut c = ctx("203.0.113.9", None);
        c.headers.insert("x-partner", "yes".parse().unwrap());
        let partner = run(&s, c);
        assert_eq!(&*partner.class, "partner");
        let classes = s.classes();
        assert_eq!(classes.len(), 2);
        let staff = run(&s, ctx("198.51.100.1", None));
        let mut cleared = rampart_core::Identity::default();
        cleared.clearance = Some(Arc::from("k"));
        let public = rampart_core::Identity::default();
        let ranks: Vec<usize> = [&staff, &partner, &cleared, &public].iter().map(|i| rank(classes, i)).collect();
        assert_eq!(ranks, vec![0, 1, 2, 3]);
    }
}
