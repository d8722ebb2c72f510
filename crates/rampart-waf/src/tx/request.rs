//! Request-line and header helpers: URI splitting, query and cookie parsing, URL decoding.

use super::data::Collection;

/// Decode `%XX` and `+` as a form decoder does. Invalid escapes are kept as written; the
/// second value tells whether any was found.
pub fn url_decode(input: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(input.len());
    let mut invalid = false;
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => match (input.get(i + 1).and_then(|c| hex(*c)), input.get(i + 2).and_then(|c| hex(*c))) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => {
                    invalid = true;
                    out.push(b'%');
                }
            },
            c => out.push(c),
        }
        i += 1;
    }
    (out, invalid)
}

/// Decode `%XX` only (no `+`), as for paths.
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            if let (Some(h), Some(l)) = (input.get(i + 1).and_then(|c| hex(*c)), input.get(i + 2).and_then(|c| hex(*c))) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Set in [`parse_query`]'s result when arguments were dropped past the limit.
pub const OVER_LIMIT: u8 = 2;

/// Parse `a=1&b=2` into `out` (at most `limit` entries in `out`). Returns bit 1 when an invalid
/// escape was seen and [`OVER_LIMIT`] when arguments were dropped past the limit.
pub fn parse_query(input: &[u8], separator: u8, limit: usize, out: &mut Collection) -> u8 {
    let mut invalid = 0u8;
    for pair in input.split(|c| *c == separator) {
        if pair.is_empty() {
            continue;
        }
        if out.len() >= limit {
            return invalid | OVER_LIMIT;
        }
        let (k, v) = match pair.iter().position(|c| *c == b'=') {
            Some(p) => (&pair[..p], &pair[p + 1..]),
            None => (pair, &b""[..]),
        };
        let (k, bad_k) = url_decode(k);
        let (v, bad_v) = url_decode(v);
        invalid |= u8::from(bad_k || bad_v);
        out.add(String::from_utf8_lossy(&k).into_owned(), v);
    }
    invalid
}

/// Parse a `Cookie` header value into `out`.
pub fn parse_cookies(header: &[u8], out: &mut Collection) {
    for part in header.split(|c| *c == b';') {
        let part = trim(part);
        if part.is_empty() {
            continue;
        }
        let (k, v) = match part.iter().position(|c| *c == b'=') {
            Some(p) => (&part[..p], &part[p + 1..]),
            None => (part, &b""[..]),
        };
        out.add(String::from_utf8_lossy(trim(k)).into_owned(), v.to_vec());
    }
}

/// Trim ASCII whitespace.
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Split a request target into (path+query without scheme and authority, path, query).
pub fn split_uri(uri: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let mut rest = uri;
    if let Some(p) = find(rest, b"://") {
        if rest[..p].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')) {
            let after = &rest[p + 3..];
            rest = match after.iter().position(|c| *c == b'/') {
                Some(slash) => &after[slash..],
                None => b"",
            };
        }
    }
    // The fragment is not part of REQUEST_URI (ModSecurity drops it; REQUEST_URI_RAW keeps it).
    if let Some(h) = rest.iter().position(|c| *c == b'#') {
        rest = &rest[..h];
    }
    let (path, query) = match rest.iter().position(|c| *c == b'?') {
        Some(q) => (&rest[..q], &rest[q + 1..]),
        None => (rest, &b""[..]),
    };
    (rest, path, query)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_and_query() {
        let (u, p, q) = split_uri(b"http://h:80/a/b?x=1#f");
        assert_eq!((u, p, q), (&b"/a/b?x=1"[..], &b"/a/b"[..], &b"x=1"[..]));
        let mut c = Collection::default();
        assert_eq!(parse_query(b"a=1&b=%41+c&d", b'&', 10, &mut c), 0);
        assert_eq!(c.get("b"), Some(&b"A c"[..]));
        assert_eq!(c.get("d"), Some(&b""[..]));
        assert_eq!(parse_query(b"x=%zz", b'&', 10, &mut c), 1);
        assert_eq!(parse_query(b"y=1", b'&', 1, &mut c), OVER_LIMIT);
    }

    #[test]
    fn cookies() {
        let mut c = Collection::default();
        parse_cookies(b"a=1; b=2;c", &mut c);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get("b"), Some(&b"2"[..]));
    }
}
