//! The `leaked-passwords` list for credential-stuffing drills.
//!
//! A drill replays these `user:password` pairs against `POST /login` the way
//! an attacker replays a breach dump. The list mixes the real usernames (an
//! attacker who scraped the staff page knows them) with thousands of made-up
//! ones, and pairs them with the kind of passwords breach dumps are full of.
//!
//! **It contains no working credential**: every real password contains a `-`
//! (see [`crate::accounts`]) and no generated password does. A drill that
//! logs in with this list alone therefore measures the shield, never a
//! breach; a drill that wants one success adds the demo credentials itself.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::accounts;

/// How many pairs [`leaked_passwords`] returns.
pub const LEAKED_PASSWORDS_LEN: usize = 10_000;

const SEED: u64 = 0x1EA4_ED00;

const COMMON: &[&str] = &[
    "123456", "password", "123456789", "qwerty", "letmein", "welcome", "iloveyou", "admin",
    "football", "monkey", "dragon", "sunshine", "princess", "trustno1", "passw0rd", "abc123",
    "starwars", "whatever", "shadow", "master", "baseball", "superman", "michael", "charlie",
];

const WORDS: &[&str] = &[
    "summer", "winter", "autumn", "spring", "campaign", "vote", "ballot", "doorstep", "canvass",
    "leaflet", "rosette", "ward", "council", "election", "manifesto", "polling", "volunteer",
    "london", "leeds", "cardiff", "glasgow", "liverpool", "bristol", "arsenal", "chelsea",
];

const SUFFIXES: &[&str] = &["", "1", "12", "123", "!", "2024", "2025", "2026", "!1", "99", "007"];

const DOMAINS: &[&str] = &["example.com", "example.net", "example.org", "campaign.example"];

const NAMES: &[&str] = &[
    "alex", "sam", "jo", "chris", "pat", "nik", "ashley", "robin", "taylor", "morgan", "jamie",
    "casey", "ellis", "harper", "kai", "lee", "max", "noor", "rowan", "sky",
];

/// ~10,000 synthetic `user:password` lines, always the same ones.
///
/// Split each line with `split_once(':')`: neither half contains a `:`.
/// About one line in twenty names a real account (with a wrong password).
pub fn leaked_passwords() -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let real: Vec<&str> = accounts::accounts().iter().map(|a| a.username).collect();
    (0..LEAKED_PASSWORDS_LEN)
        .map(|i| {
            let user = if rng.gen_ratio(1, 20) {
                (*real.choose(&mut rng).unwrap_or(&"staff@campaign.example")).to_owned()
            } else {
                let name = NAMES.choose(&mut rng).copied().unwrap_or("user");
                let domain = DOMAINS.choose(&mut rng).copied().unwrap_or("example.com");
                format!("{name}{i}@{domain}")
            };
            format!("{user}:{}", password(&mut rng))
        })
        .collect()
}

/// A breach-dump style password; never contains `-` or `:`.
fn password(rng: &mut ChaCha8Rng) -> String {
    let suffix = SUFFIXES.choose(rng).copied().unwrap_or("");
    if rng.gen_bool(0.4) {
        format!("{}{suffix}", COMMON.choose(rng).copied().unwrap_or("123456"))
    } else {
        let word = WORDS.choose(rng).copied().unwrap_or("password");
        let word = if rng.gen_bool(0.5) { capitalise(word) } else { word.to_owned() };
        format!("{word}{}{suffix}", rng.gen_range(0..100))
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| first.to_ascii_uppercase().to_string() + chars.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_deterministic_pairs() {
        let list = leaked_passwords();
        assert_eq!(list.len(), LEAKED_PASSWORDS_LEN);
        assert_eq!(list, leaked_passwords());
        assert!(list.iter().all(|l| l.matches(':').count() == 1));
    }

    #[test]
    fn names_real_accounts_but_holds_no_valid_credential() {
        let list = leaked_passwords();
        let real: Vec<&str> = accounts::accounts().iter().map(|a| a.username).collect();
        let with_real_user: Vec<(&str, &str)> = list
            .iter()
            .filter_map(|l| l.split_once(':'))
            .filter(|(u, _)| real.contains(u))
            .collect();
        assert!(with_real_user.len() > 100, "drills need real usernames in the list");
        assert!(list.iter().all(|l| !l.contains('-')));
        // Belt and braces: check a hundred of them against the real hashes
        // (all ~500 would cost seconds of PBKDF2 in a debug build; the
        // hyphen invariant above already covers every line).
        for (u, p) in with_real_user.into_iter().take(100) {
            assert!(accounts::verify(u, p).is_none(), "{u}:{p} is a valid credential");
        }
    }
}
