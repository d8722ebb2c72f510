//! Synthetic contacts, generated deterministically from a seed.
//!
//! Everything here is made up: names are drawn from short built-in lists,
//! emails use the reserved `example.org`/`example.net`/`example.com` domains,
//! phone numbers sit in Ofcom's drama range (`07700 900000`–`07700 900999`)
//! and postcodes are shaped like UK ones but built from letters and digits
//! at random. The same seed always yields the same contacts, so drills and
//! tests can name a contact by id and know what they will get back.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One row of the `contacts` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    /// Row id, `1..=contacts`, in generation order.
    pub id: i64,
    /// "First Last".
    pub name: String,
    /// Derived from the name; unique because the id is part of it.
    pub email: String,
    /// UK mobile shape, from the range reserved for fiction.
    pub phone: String,
    /// UK postcode shape, e.g. `LS6 2AB`.
    pub postcode: String,
    /// Electoral ward the contact lives in.
    pub ward: String,
    /// Where the canvassers got with this contact.
    pub canvass_status: String,
    /// Free-text canvasser note; may contain commas and quotes, never a newline.
    pub notes: String,
}

const FIRST_NAMES: &[&str] = &[
    "Amara", "Ben", "Chloe", "Dev", "Eilidh", "Femi", "Grace", "Hamza", "Isla", "Jack",
    "Kiran", "Leah", "Marek", "Niamh", "Oliver", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
    "Una", "Vikram", "Wren", "Xavier", "Yusuf", "Zara", "Aled", "Bronwen", "Ciaran", "Dafydd",
    "Esme", "Fraser", "Gwen", "Harriet", "Imran", "Jasmine", "Kwame", "Lorna", "Mohammed", "Nora",
];

const LAST_NAMES: &[&str] = &[
    "Adeyemi", "Brennan", "Chowdhury", "Davies", "Evans", "Fletcher", "Gallagher", "Hughes",
    "Iqbal", "Jones", "Kowalski", "Lewis", "MacLeod", "Nowak", "O'Brien", "Patel", "Quigley",
    "Robertson", "Singh", "Thomas", "Uddin", "Vaughan", "Williams", "Xu", "Young", "Zielinski",
    "Ahmed", "Baker", "Campbell", "Doherty", "Ellis", "Fraser", "Green", "Hussain", "Kaur",
];

const WARDS: &[&str] = &[
    "Abbey", "Bridge End", "Castle", "Docklands", "Eastfield", "Forest Hill", "Greenside",
    "Harbour", "Kingsway", "Meadowbank", "Northgate", "Old Town", "Riverside", "St Mary's",
    "Southmoor", "Westfield",
];

/// Canvass outcomes, in the order the status filter lists them.
pub const CANVASS_STATUSES: &[&str] = &[
    "not contacted",
    "supporter",
    "leaning",
    "undecided",
    "against",
    "moved away",
    "do not contact",
];

const NOTES: &[&str] = &[
    "",
    "Happy to take a poster",
    "Asked about the new bus route, wants a reply",
    "Not in; left a leaflet",
    "Will volunteer on polling day",
    "Prefers email, not phone",
    "Concerned about \"the bypass\", call back after 6pm",
    "Dog in the garden, use side gate",
    "Registered for a postal vote",
    "Wants to know the candidate's view on schools, housing and parking",
    "Said \"no thanks\" politely",
    "Needs a lift to the polling station",
];

const POSTCODE_AREAS: &[&str] = &["LS", "M", "B", "CF", "EH", "G", "BS", "NE", "SW", "N", "E", "L"];
const POSTCODE_UNIT_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
const EMAIL_DOMAINS: &[&str] = &["example.org", "example.net", "example.com"];

/// Generates `count` contacts from `seed`; ids run from 1 to `count`.
///
/// Deterministic: the same `(count, seed)` gives the same contacts on every
/// platform and every run, and a larger `count` extends a smaller one.
pub fn contacts(count: usize, seed: u64) -> Vec<Contact> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (1..=count as i64).map(|id| contact(id, &mut rng)).collect()
}

fn contact(id: i64, rng: &mut ChaCha8Rng) -> Contact {
    let first = pick(FIRST_NAMES, rng);
    let last = pick(LAST_NAMES, rng);
    let domain = pick(EMAIL_DOMAINS, rng);
    let local: String = format!("{first}.{last}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect::<String>()
        .to_ascii_lowercase();
    let phone = format!("07700 900{:03}", rng.gen_range(0..1000));
    let area = pick(POSTCODE_AREAS, rng);
    let postcode = format!(
        "{area}{} {}{}{}",
        rng.gen_range(1..=20),
        rng.gen_range(0..=9),
        *POSTCODE_UNIT_LETTERS.choose(rng).unwrap_or(&b'A') as char,
        *POSTCODE_UNIT_LETTERS.choose(rng).unwrap_or(&b'A') as char,
    );
    Contact {
        id,
        name: format!("{first} {last}"),
        email: format!("{local}{id}@{domain}"),
        phone,
        postcode,
        ward: pick(WARDS, rng).to_owned(),
        canvass_status: pick(CANVASS_STATUSES, rng).to_owned(),
        notes: pick(NOTES, rng).to_owned(),
    }
}

fn pick<'a>(list: &[&'a str], rng: &mut ChaCha8Rng) -> &'a str {
    list.choose(rng).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_contacts() {
        assert_eq!(contacts(200, 7), contacts(200, 7));
        assert_ne!(contacts(200, 7), contacts(200, 8));
    }

    #[test]
    fn larger_count_extends_smaller() {
        let small = contacts(10, 42);
        let large = contacts(100, 42);
        assert_eq!(small[..], large[..10]);
    }

    #[test]
    fn fields_are_well_formed() {
        for c in contacts(1000, 1) {
            assert!(c.email.contains('@') && c.email.ends_with(".org") || c.email.ends_with(".net") || c.email.ends_with(".com"));
            assert!(c.phone.starts_with("07700 900"));
            assert!(!c.notes.contains('\n'));
            assert!(CANVASS_STATUSES.contains(&c.canvass_status.as_str()));
        }
    }
}
