//! The staff accounts that can log in, and how their passwords are checked.
//!
//! ## Demo credentials (documented on purpose; repeated in the crate docs)
//!
//! | username | password | role |
//! |---|---|---|
//! | `staff@campaign.example` | `doorstep-ledger-42` | staff (the demo account, [`DEMO_USERNAME`] / [`DEMO_PASSWORD`]) |
//! | `organiser@campaign.example` | `marginal-seat-canvass-7` | organiser |
//! | `data@campaign.example` | `electoral-roll-vault-19` | data protection |
//! | `admin@campaign.example` | `rosette-printer-88` | admin |
//!
//! The source keeps only salted hashes; the passwords above live in this
//! documentation and in the tests. Every real password contains a `-`, and
//! [`crate::leaked_passwords`] never generates one, so the drill list can
//! never hold a working credential.
//!
//! ## Why PBKDF2-HMAC-SHA256 with 1,000 rounds, not argon2
//!
//! The testbed is a sample to attack, not a model to copy. Credential-stuffing
//! drills send thousands of logins to it on a two-core machine, often in debug
//! builds where argon2's recommended cost (19 MiB, 2 passes) takes hundreds of
//! milliseconds per attempt: the drill would measure the hash, not the shield.
//! A salted, iterated hash still keeps the passwords out of the source and out
//! of the `users` table that the vulnerable mode's SQL injection can read. A
//! production app should use argon2id.

use hmac::Hmac;
use sha2::Sha256;

/// The demo account's username.
pub const DEMO_USERNAME: &str = "staff@campaign.example";
/// The demo account's password: public, for `rampart demo`, drills and tests.
pub const DEMO_PASSWORD: &str = "doorstep-ledger-42";

/// PBKDF2 rounds for stored passwords (see the module docs for why so few).
const ROUNDS: u32 = 1_000;

/// A real staff account (without its password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Login name, an email address under `campaign.example`.
    pub username: &'static str,
    /// What the account is for; shown on pages, not used for access control.
    pub role: &'static str,
}

/// An account as the database keeps it: salt and PBKDF2 hash, both hex.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredAccount {
    pub username: &'static str,
    pub role: &'static str,
    pub salt_hex: &'static str,
    pub hash_hex: &'static str,
}

const STORED: &[StoredAccount] = &[
    StoredAccount {
        username: "staff@campaign.example",
        role: "staff",
        salt_hex: "4d1f0b9a7c2e5f83a6d0c4e1b7f29a35",
        hash_hex: "00c675656394c6167a736222820afd3e75941b91e6611145566541822094d622",
    },
    StoredAccount {
        username: "organiser@campaign.example",
        role: "organiser",
        salt_hex: "9e3c7a1d5b0f2846c8e4a6d2f1b3c597",
        hash_hex: "ad6fa0454712aee6318b9e04bc95e44ebd2212506af23c9be89436c614e65241",
    },
    StoredAccount {
        username: "data@campaign.example",
        role: "data protection",
        salt_hex: "27b5e9c3a1f4d8066e2c0a9b7d5f3e18",
        hash_hex: "6792dae30dd00c02d55429895bc8393d8c11991c082eb94c89dd253e0ad6b0c0",
    },
    StoredAccount {
        username: "admin@campaign.example",
        role: "admin",
        salt_hex: "c0a4e82f6b1d9357a5e3c7f0d2b8a164",
        hash_hex: "d6b882e1b53a05d482e5f79b75e47459d0b4b36e3043b70847e6ce1282eb5057",
    },
];

/// The real accounts, in a fixed order (the demo account first).
pub fn accounts() -> Vec<Account> {
    STORED.iter().map(|s| Account { username: s.username, role: s.role }).collect()
}

pub(crate) fn stored_accounts() -> &'static [StoredAccount] {
    STORED
}

/// The account `username` logs in as, if `password` is its password.
///
/// Unknown usernames cost one hash too, so the answer's timing does not tell
/// which usernames exist.
pub(crate) fn verify(username: &str, password: &str) -> Option<Account> {
    let stored = STORED.iter().find(|s| s.username == username);
    let (salt_hex, hash_hex) = stored.map_or((STORED[0].salt_hex, ""), |s| (s.salt_hex, s.hash_hex));
    let computed = hex(&hash_password(password, &unhex(salt_hex)));
    let matches = constant_time_eq(computed.as_bytes(), hash_hex.as_bytes());
    match stored {
        Some(s) if matches => Some(Account { username: s.username, role: s.role }),
        _ => None,
    }
}

fn hash_password(password: &str, salt: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2::<Hmac<Sha256>>(password.as_bytes(), salt, ROUNDS, &mut out)
        .unwrap_or_else(|_| unreachable_invalid_length());
    out
}

/// `Hmac` accepts keys of any length, so PBKDF2 cannot fail here; should it
/// ever, no password matches.
fn unreachable_invalid_length() {
    tracing::error!("PBKDF2 rejected its key length; no password will match");
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Bytes of a hex string; invalid pairs are skipped (inputs here are our own
/// constants, or session-cookie MACs that are then compared, not trusted).
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks(2)
        .filter_map(|pair| std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

/// Compares without an early exit on the first differing byte.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented passwords; see the module docs.
    const PASSWORDS: &[(&str, &str)] = &[
        ("staff@campaign.example", "doorstep-ledger-42"),
        ("organiser@campaign.example", "marginal-seat-canvass-7"),
        ("data@campaign.example", "electoral-roll-vault-19"),
        ("admin@campaign.example", "rosette-printer-88"),
    ];

    #[test]
    fn documented_passwords_verify() {
        for (u, p) in PASSWORDS {
            assert_eq!(verify(u, p).map(|a| a.username), Some(*u));
            assert!(verify(u, "wrong").is_none());
        }
        assert_eq!(PASSWORDS.len(), accounts().len());
        assert_eq!((DEMO_USERNAME, DEMO_PASSWORD), PASSWORDS[0]);
    }

    #[test]
    fn unknown_user_or_cross_account_password_fails() {
        assert!(verify("nobody@campaign.example", DEMO_PASSWORD).is_none());
        assert!(verify("admin@campaign.example", DEMO_PASSWORD).is_none());
        assert!(verify("", "").is_none());
    }

    #[test]
    fn every_real_password_contains_a_hyphen() {
        // The invariant leaked.rs relies on.
        assert!(PASSWORDS.iter().all(|(_, p)| p.contains('-')));
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(unhex(&hex(&[0, 1, 0xab, 0xff])), vec![0, 1, 0xab, 0xff]);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
