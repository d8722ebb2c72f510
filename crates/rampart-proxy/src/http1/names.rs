//! The field names of a connection's last head, remembered for its next one.

use http::header::HeaderName;

/// The field names of a connection's last response, by position, with their place among the
/// hop-by-hop fields: a server sends the same names in the same order response after
/// response, and comparing the bytes costs a tenth of `HeaderName::from_bytes` (which
/// lower-cases and matches the name against the standard ones; ~150 instructions a field,
/// callgrind) and the hop-by-hop match after it. Bounded: the first [`NameCache::FIELDS`]
/// positions, names up to [`NameCache::NAME`] bytes.
#[derive(Default)]
pub struct NameCache {
    known: Vec<(Box<[u8]>, HeaderName, Option<usize>)>,
}

impl NameCache {
    const FIELDS: usize = 32;
    const NAME: usize = 64;

    /// The name of the field at position `at` whose bytes are `raw`, and its place among the
    /// hop-by-hop fields (`forward::hop_by_hop_index`).
    pub fn get(&mut self, at: usize, raw: &[u8]) -> Option<(HeaderName, Option<usize>)> {
        if let Some((bytes, name, hop)) = self.known.get(at) {
            if **bytes == *raw {
                return Some((name.clone(), *hop));
            }
        }
        let name = HeaderName::from_bytes(raw).ok()?;
        let hop = crate::forward::hop_by_hop_index(name.as_str());
        if at < Self::FIELDS && raw.len() <= Self::NAME && at <= self.known.len() {
            let entry = (Box::from(raw), name.clone(), hop);
            match self.known.get_mut(at) {
                Some(slot) => *slot = entry,
                None => self.known.push(entry),
            }
        }
        Some((name, hop))
    }
}
