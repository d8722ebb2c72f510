//! [`UsernameKey`]: user names and passwords as keyed hashes, never as text.
//!
//! The login guard counts failures per user name and per password, but must never keep either
//! in memory, logs or events. Each is reduced at once to HMAC-SHA256 under a key that is random
//! per process (or read from `username_key_file`, so that the hashes an operator reads in logs
//! match across restarts and nodes). A user name appears outside the process only as
//! `user#` and 16 hex digits of its MAC; a password's MAC never leaves the sketches' counters.

use std::fmt;
use std::path::Path;

use hmac::{Hmac, Mac};
use rampart_state::KeyHash;
use sha2::Sha256;

/// The HMAC key for user names and passwords.
#[derive(Clone)]
pub struct UsernameKey([u8; 32]);

/// A user name as the guard knows it: its MAC, for counting and for logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserTag([u8; 8]);

impl UsernameKey {
    /// A fresh random key: hashes are stable for this process only.
    pub fn random() -> UsernameKey {
        UsernameKey(rand::random())
    }

    /// The key in `path` (its bytes, at least 16, surrounding blanks ignored).
    pub fn from_file(path: &Path) -> std::io::Result<UsernameKey> {
        let raw = std::fs::read(path)?;
        let trimmed = raw.trim_ascii();
        if trimmed.len() < 16 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "a username key needs at least 16 bytes"));
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"rampart username key").expect("any key length");
        mac.update(trimmed);
        Ok(UsernameKey(mac.finalize().into_bytes().into()))
    }

    fn mac(&self, domain: &[u8], value: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(domain);
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// A user name's tag. Case and surrounding blanks do not count: `Ann@x` is `ann@x`.
    pub fn user(&self, username: &str) -> UserTag {
        let normal = username.trim().to_lowercase();
        let mac = self.mac(b"user\0", normal.as_bytes());
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&mac[..8]);
        UserTag(tag)
    }

    /// A password's hash, for counting how many user names one password was tried on. Only
    /// ever used as a sketch key; never printed, never stored beside anything else.
    pub fn password(&self, password: &[u8]) -> KeyHash {
        let mac = self.mac(b"password\0", password);
        KeyHash::of_bytes(&mac[..16])
    }
}

impl fmt::Debug for UsernameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UsernameKey(..)")
    }
}

impl UserTag {
    /// The tag as a sketch key.
    pub fn key(self) -> KeyHash {
        KeyHash::of_bytes(&self.0)
    }

    pub fn bytes(self) -> [u8; 8] {
        self.0
    }
}

impl fmt::Display for UserTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("user#")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for UserTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_ignore_case_and_never_show_the_name() {
        let key = UsernameKey::random();
        let a = key.user(" Staff@Campaign.example");
        assert_eq!(a, key.user("staff@campaign.example"));
        assert_ne!(a, key.user("staff@campaign.exampl"));
        let shown = a.to_string();
        assert!(shown.starts_with("user#") && shown.len() == 21, "{shown}");
        assert!(!shown.contains("staff"));
        assert_ne!(UsernameKey::random().user("x"), key.user("x"));
        assert_eq!(format!("{key:?}"), "UsernameKey(..)");
    }

    #[test]
    fn a_key_file_gives_the_same_tags_twice() {
        let dir = std::env::temp_dir().join(format!("rampart-key-{}", std::process::id()));
        std::fs::write(&dir, "0123456789abcdef0123\n").unwrap();
        let (a, b) = (UsernameKey::from_file(&dir).unwrap(), UsernameKey::from_file(&dir).unwrap());
        assert_eq!(a.user("ann"), b.user("ann"));
        std::fs::write(&dir, "short").unwrap();
        assert!(UsernameKey::from_file(&dir).is_err());
        let _ = std::fs::remove_file(&dir);
    }
}
