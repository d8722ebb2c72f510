//! Session cookies: `session=<username>:<expires>:<mac>`, where `mac` is
//! HMAC-SHA256 over `<username>:<expires>` with a key drawn at random when the
//! [`Testbed`](crate::Testbed) is built.
//!
//! Nothing is stored server-side, so a restart (a new key) logs everyone out,
//! and a flood of forged cookies costs one HMAC each and no memory.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::accounts::{self, constant_time_eq, hex, unhex, Account};

/// Name of the session cookie.
pub(crate) const COOKIE_NAME: &str = "session";

/// How long a login lasts.
const LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);

/// The per-testbed signing key.
pub(crate) struct SessionKey([u8; 32]);

impl SessionKey {
    /// A fresh random key.
    pub fn random() -> SessionKey {
        SessionKey(rand::random())
    }

    /// The `Set-Cookie` value that logs `account` in.
    pub fn issue(&self, account: &Account) -> HeaderValue {
        let expires = now_secs().saturating_add(LIFETIME.as_secs());
        let payload = format!("{}:{expires}", account.username);
        let mac = hex(&self.mac(&payload));
        let cookie = format!(
            "{COOKIE_NAME}={payload}:{mac}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
            LIFETIME.as_secs()
        );
        // Usernames are our own constants, so the value is always valid.
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("session=; Path=/"))
    }

    /// The `Set-Cookie` value that logs out.
    pub fn clear() -> HeaderValue {
        HeaderValue::from_static("session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
    }

    /// The account whose valid, unexpired session cookie `headers` carry.
    pub fn account(&self, headers: &HeaderMap) -> Option<Account> {
        cookie_values(headers).find_map(|v| self.verify(v))
    }

    fn verify(&self, value: &str) -> Option<Account> {
        let (payload, mac_hex) = value.rsplit_once(':')?;
        let (username, expires) = payload.rsplit_once(':')?;
        let expected = self.mac(payload);
        if !constant_time_eq(&unhex(mac_hex), &expected) {
            return None;
        }
        if expires.parse::<u64>().ok()? <= now_secs() {
            return None;
        }
        accounts::accounts().into_iter().find(|a| a.username == username)
    }

    fn mac(&self, payload: &str) -> [u8; 32] {
        // HMAC takes keys of any length; `new_from_slice` cannot fail here.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return [0; 32];
        };
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Every `session` cookie value in the request's `Cookie` headers.
fn cookie_values(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Adds `Set-Cookie: value` to `headers`.
pub(crate) fn set_cookie(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(SET_COOKIE, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    fn cookie_pair(set_cookie: &HeaderValue) -> String {
        set_cookie.to_str().unwrap().split(';').next().unwrap().to_owned()
    }

    #[test]
    fn issued_cookie_round_trips() {
        let key = SessionKey::random();
        let account = accounts::accounts()[0];
        let pair = cookie_pair(&key.issue(&account));
        assert_eq!(key.account(&request_with(&format!("theme=dark; {pair}"))), Some(account));
    }

    #[test]
    fn forged_or_foreign_cookies_are_refused() {
        let key = SessionKey::random();
        let other = SessionKey::random();
        let account = accounts::accounts()[0];
        let pair = cookie_pair(&other.issue(&account));
        assert_eq!(key.account(&request_with(&pair)), None);
        let tampered = cookie_pair(&key.issue(&account)).replace("staff@", "admin@");
        assert_eq!(key.account(&request_with(&tampered)), None);
        assert_eq!(key.account(&request_with("session=garbage")), None);
        assert_eq!(key.account(&request_with("session=a:b:c:d")), None);
    }

    #[test]
    fn expired_cookie_is_refused() {
        let key = SessionKey::random();
        let payload = "staff@campaign.example:1";
        let value = format!("session={payload}:{}", hex(&key.mac(payload)));
        assert_eq!(key.account(&request_with(&value)), None);
    }
}
