//! Signed tokens: the challenges the gate hands out and the clearances it grants.
//!
//! Every token is printable ASCII, `.`-separated fields followed by a MAC over everything
//! before it: HMAC-SHA-256 under the process's (or the configured) secret, truncated to 128
//! bits and checked in constant time. Three kinds:
//!
//! | token | fields | valid when |
//! |---|---|---|
//! | proof-of-work challenge | `c1.ISSUED.BITS.NONCE.BIND.MAC` | younger than [`CHALLENGE_TTL`], not spent, and `SHA-256(token ":" answer)` starts with `BITS` zero bits |
//! | no-JavaScript challenge | `w1.ISSUED.WAIT.NONCE.BIND.MAC` | at least `WAIT` seconds old, younger than `WAIT` + [`CHALLENGE_TTL`], not spent |
//! | clearance (cookie) | `k1.ID.EXPIRES.BIND.MAC` | not expired, not revoked, and `BIND` matches the request |
//!
//! `BIND` is a short hash of the request's `User-Agent`: a clearance lifted from one browser
//! and replayed by a script with another agent string fails, while a user whose address
//! changes (mobile networks, VPNs) keeps it. What the binding cannot stop (a script copying
//! the agent string too) the gate bounds another way: a clearance seen from too many address
//! prefixes is revoked ([`crate::challenge`]).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// How long a challenge may take to solve (and a no-JavaScript one to be sent after its wait).
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);

/// Bytes of MAC kept in a token.
const MAC_LEN: usize = 16;

/// The secret every token is signed with.
#[derive(Clone)]
pub struct Keys {
    secret: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// Why a secret file was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: the secret must hold at least 32 bytes (it holds {len}); generate one with `head -c 32 /dev/urandom | base64`")]
    TooShort { path: String, len: usize },
}

impl Keys {
    /// A fresh random secret: clearances last as long as the process (and survive reloads
    /// when the caller keeps the keys).
    pub fn random() -> Keys {
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        Keys { secret }
    }

    /// The secret from a file (shared by the nodes of a cluster, so a clearance granted by one
    /// is honoured by all). The file's bytes, trimmed, are hashed into the key.
    pub fn from_file(path: &Path) -> Result<Keys, KeyError> {
        let raw = std::fs::read(path).map_err(|source| KeyError::Read { path: path.display().to_string(), source })?;
        let trimmed = raw.trim_ascii();
        if trimmed.len() < 32 {
            return Err(KeyError::TooShort { path: path.display().to_string(), len: trimmed.len() });
        }
        Ok(Keys { secret: Sha256::digest(trimmed).into() })
    }

    fn mac(&self, text: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(text.as_bytes());
        mac
    }

    /// `text` followed by `.` and its MAC.
    pub fn sign(&self, text: &str) -> String {
        let tag = self.mac(text).finalize().into_bytes();
        format!("{text}.{}", URL_SAFE_NO_PAD.encode(&tag[..MAC_LEN]))
    }

    /// The signed text of `token` when its MAC is right (constant-time comparison).
    pub fn open<'t>(&self, token: &'t str) -> Option<&'t str> {
        let (text, tag) = token.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if tag.len() != MAC_LEN {
            return None;
        }
        self.mac(text).verify_truncated_left(&tag).ok()?;
        Some(text)
    }
}

/// The binding of a token to the client that earned it: 12 hex digits of SHA-256 of its
/// `User-Agent` (empty when absent).
pub fn binding(user_agent: Option<&str>) -> String {
    let digest = Sha256::digest(user_agent.unwrap_or("").as_bytes());
    hex(&digest[..6])
}

/// Random hex of `n` bytes: nonces and clearance ids.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut buf);
    hex(&buf)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch.
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Leading zero bits of a digest.
pub fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut n = 0;
    for b in digest {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// Whether `answer` solves the proof-of-work `challenge` at `bits`.
pub fn solves(challenge: &str, answer: &str, bits: u32) -> bool {
    let mut h = Sha256::new();
    h.update(challenge.as_bytes());
    h.update(b":");
    h.update(answer.as_bytes());
    leading_zero_bits(&h.finalize()) >= bits
}

/// A challenge, as issued (`c1`, proof-of-work) or (`w1`, wait).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub kind: ChallengeKind,
    pub issued: u64,
    pub nonce: String,
    pub bind: String,
}

/// What a challenge asks of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// Find an answer whose hash has this many leading zero bits.
    Work { bits: u32 },
    /// Come back after this many seconds (the no-JavaScript path).
    Wait { seconds: u32 },
}

impl Challenge {
    pub fn new(kind: ChallengeKind, now: SystemTime, bind: String) -> Challenge {
        Challenge { kind, issued: unix(now), nonce: random_hex(12), bind }
    }

    /// The signed token.
    pub fn token(&self, keys: &Keys) -> String {
        let (tag, n) = match self.kind {
            ChallengeKind::Work { bits } => ("c1", bits),
            ChallengeKind::Wait { seconds } => ("w1", seconds),
        };
        keys.sign(&format!("{tag}.{}.{n}.{}.{}", self.issued, self.nonce, self.bind))
    }

    /// Parse a token whose MAC is right.
    pub fn parse(keys: &Keys, token: &str) -> Option<Challenge> {
        let text = keys.open(token)?;
        let mut f = text.split('.');
        let (tag, issued, n, nonce, bind) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
        if f.next().is_some() {
            return None;
        }
        let n: u32 = n.parse().ok()?;
        let kind = match tag {
            "c1" => ChallengeKind::Work { bits: n },
            "w1" => ChallengeKind::Wait { seconds: n },
            _ => return None,
        };
        Some(Challenge { kind, issued: issued.parse().ok()?, nonce: nonce.to_string(), bind: bind.to_string() })
    }
}

/// A clearance, as carried in the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearance {
    pub id: String,
    pub expires: u64,
    pub bind: String,
}

impl Clearance {
    pub fn new(now: SystemTime, ttl: Duration, bind: String) -> Clearance {
        Clearance { id: random_hex(12), expires: unix(now) + ttl.as_secs(), bind }
    }

    pub fn token(&self, keys: &Keys) -> String {
        keys.sign(&format!("k1.{}.{}.{}", self.id, self.expires, self.bind))
    }

    /// Parse a token whose MAC is right (expiry and binding are the caller's to check).
    pub fn parse(keys: &Keys, token: &str) -> Option<Clearance> {
        let text = keys.open(token)?;
        let mut f = text.split('.');
        let (tag, id, expires, bind) = (f.next()?, f.next()?, f.next()?, f.next()?);
        if tag != "k1" || f.next().is_some() {
            return None;
        }
        Some(Clearance { id: id.to_string(), expires: expires.parse().ok()?, bind: bind.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_under_its_key_and_unaltered() {
        let keys = Keys::random();
        let t = keys.sign("k1.abc.100.ff");
        assert_eq!(keys.open(&t), Some("k1.abc.100.ff"));
        assert_eq!(Keys::random().open(&t), None);
        let altered = t.replacen("100", "999", 1);
        assert_eq!(keys.open(&altered), None);
        assert_eq!(keys.open("k1.abc.100.ff"), None);
        assert_eq!(keys.open(""), None);
    }

    #[test]
    fn challenges_and_clearances_round_trip() {
        let keys = Keys::random();
        let now = SystemTime::now();
        for kind in [ChallengeKind::Work { bits: 12 }, ChallengeKind::Wait { seconds: 5 }] {
            let c = Challenge::new(kind, now, binding(Some("Mozilla/5.0")));
            assert_eq!(Challenge::parse(&keys, &c.token(&keys)), Some(c));
        }
        let k = Clearance::new(now, Duration::from_secs(60), binding(None));
        assert_eq!(Clearance::parse(&keys, &k.token(&keys)), Some(k.clone()));
        // A clearance is not a challenge and the reverse.
        assert_eq!(Challenge::parse(&keys, &k.token(&keys)), None);
    }

    #[test]
    fn proof_of_work_is_checked_to_the_bit() {
        let challenge = "c1.1.8.00.00.x";
        let answer = (0u64..).map(|n| n.to_string()).find(|a| solves(challenge, a, 8)).unwrap();
        assert!(solves(challenge, &answer, 8));
        // Some answer fails at 8 bits (most do).
        assert!((0u64..64).map(|n| n.to_string()).any(|a| !solves(challenge, &a, 8)));
        assert_eq!(leading_zero_bits(&[0, 0x10, 0xff]), 11);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
    }

    #[test]
    fn key_files_must_hold_enough_secret() {
        let dir = std::env::temp_dir().join(format!("rampart-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let short = dir.join("short");
        std::fs::write(&short, "tiny\n").unwrap();
        assert!(matches!(Keys::from_file(&short), Err(KeyError::TooShort { .. })));
        let good = dir.join("good");
        std::fs::write(&good, "0123456789abcdef0123456789abcdef\n").unwrap();
        let a = Keys::from_file(&good).unwrap();
        let b = Keys::from_file(&good).unwrap();
        assert_eq!(a.open(&b.sign("x")), Some("x"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
