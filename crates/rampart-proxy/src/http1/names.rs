//! The field names of a connection's last head, remembered for its next one.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

/// The field names of a connection's last response, by position, with their place among the
/// hop-by-hop fields: a server sends the same names in the same order response after
/// response, and comparing the bytes costs a tenth of `HeaderName::from_bytes` (which
/// lower-cases and matches the name against the standard ones; ~150 instructions a field,
/// callgrind) and the hop-by-hop match after it. Bounded: the first [`NameCache::FIELDS`]
/// positions, names up to [`NameCache::NAME`] bytes.
///
/// It also holds the fields of the head being read, as names and ranges of the head's bytes
/// ([`NameCache::keep`], [`NameCache::into_map`]): the values become `HeaderValue`s once the
/// head is split off the read buffer, sharing it, where copying the head out cost a copy, an
/// allocation and another when its first value was sliced (~300 instructions a head).
#[derive(Default)]
pub struct NameCache {
    known: Vec<(Box<[u8]>, HeaderName, Option<usize>)>,
    fields: Vec<(HeaderName, u32, u32)>,
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

    /// Forget the fields of the last head read (a head refused half-way left some).
    pub fn begin_head(&mut self) {
        self.fields.clear();
    }

    /// Keep the field `name` whose value is `value`, a slice of `base` (the head's bytes as
    /// parsed, before they are split off the read buffer).
    pub fn keep(&mut self, name: HeaderName, base: &[u8], value: &[u8]) {
        let range = super::range_in(base, value);
        // Heads are bounded far below 4 GiB (`max_header_bytes`, `h1::MAX_HEAD`).
        self.fields.push((name, range.start as u32, range.end as u32));
    }

    /// The fields kept since [`NameCache::begin_head`], with `head` the bytes they were
    /// parsed from (`base` of [`NameCache::keep`], same offsets), and room for `more`.
    pub fn into_map(&mut self, head: &Bytes, more: usize) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.fields.len() + more);
        for (name, at, end) in self.fields.drain(..) {
            // SAFETY: httparse accepted these bytes as a field value: HTAB, SP, VCHAR and
            // obs-text (0x80-0xFF), which are exactly the bytes a `HeaderValue` may hold.
            let value = unsafe { HeaderValue::from_maybe_shared_unchecked(head.slice(at as usize..end as usize)) };
            map.append(name, value);
        }
        map
    }
}
