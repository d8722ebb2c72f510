//! The request toward the upstream and the response back: hop-by-hop headers removed,
//! forwarding headers set.

use std::io::Write;
use std::net::IpAddr;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use parking_lot::Mutex;
use http::request::Parts;
use http::{Method, Uri, Version};
use rampart_core::ForwardHeaders;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// The request id header, toward the upstream and back to the client.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1).
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::TRANSFER_ENCODING,
];

/// `name`'s place in [`HOP_BY_HOP`], by the name's text: a few length-and-byte comparisons,
/// where comparing `HeaderName`s one by one walked the whole list for every header.
pub(crate) fn hop_by_hop_index(name: &str) -> Option<usize> {
    Some(match name {
        "connection" => 0,
        "keep-alive" => 1,
        "proxy-connection" => 2,
        "proxy-authenticate" => 3,
        "te" => 4,
        "trailer" => 5,
        "upgrade" => 6,
        "transfer-encoding" => 7,
        _ => return None,
    })
}

/// Remove hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    strip(headers, false);
}

/// [`strip_hop_by_hop`], but a WebSocket handshake (`may_upgrade`: an HTTP/1.1 GET, whose
/// fields [`crate::tunnel::asks_websocket`] then reads) keeps its upgrade, as
/// [`crate::tunnel::set_upgrade_fields`] writes it. The handshake is looked for only when both
/// `Upgrade` and `Connection` are there.
fn strip(headers: &mut HeaderMap, may_upgrade: bool) {
    // One pass over the names present (a handful), noting which hop-by-hop ones are there;
    // only those are removed (a removal hashes its name, found or not). No allocation.
    let mut found = 0u8;
    for name in headers.keys() {
        if let Some(i) = hop_by_hop_index(name.as_str()) {
            found |= 1 << i;
        }
    }
    if found == 0 {
        return;
    }
    const UPGRADE_AND_CONNECTION: u8 = 1 << 6 | 1;
    let websocket = may_upgrade && found & UPGRADE_AND_CONNECTION == UPGRADE_AND_CONNECTION && crate::tunnel::asks_websocket(headers);
    if found & 1 != 0 {
        strip_named(headers, &mut found);
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if found & (1 << i) != 0 {
            headers.remove(name);
        }
    }
    if websocket {
        crate::tunnel::set_upgrade_fields(headers);
    }
}

/// Remove the headers the `Connection` header names; those of [`HOP_BY_HOP`] (`keep-alive`,
/// mostly) are marked in `found` instead, to be removed with the rest.
fn strip_named(headers: &mut HeaderMap, found: &mut u8) {
    // Each value is cloned (a reference count, not a copy) so that the map can change while
    // its tokens are read; a removal by `&str` parses the name on the stack.
    let mut n = 0;
    while let Some(value) = headers.get_all(header::CONNECTION).iter().nth(n).cloned() {
        n += 1;
        // By bytes: a `str` split and trim (a char pattern, Unicode whitespace) cost more than
        // the short list they cut. A value that is not visible ASCII names nothing.
        let text = value.to_str().map(str::as_bytes).unwrap_or_default();
        for token in text.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|t| !t.is_empty()) {
            match HOP_BY_HOP.iter().position(|h| h.as_str().as_bytes().eq_ignore_ascii_case(token)) {
                Some(i) => *found |= 1 << i,
                None => {
                    if let Ok(name) = std::str::from_utf8(token) {
                        headers.remove(name);
                    }
                }
            }
        }
    }
}

/// Facts the upstream is told about the original request.
pub struct Forwarding<'a> {
    pub client: IpAddr,
    pub peer: IpAddr,
    pub peer_trusted: bool,
    pub tls: bool,
    /// The request id, sent to the upstream (and, from the same buffer, back to the client).
    pub request_id: &'a str,
    /// The connection's lines from its last request, to start from when they still hold.
    pub memo: Option<&'a ForwardMemo>,
    /// Which fields are written (the upstream's `forward_headers`).
    pub send: ForwardHeaders,
    /// The route takes WebSocket handshakes (its `websocket`): when false, an `Upgrade` goes
    /// with the hop-by-hop fields like any other.
    pub websocket: bool,
}

/// A connection's forwarding lines up to the request id, kept for its next request: its
/// client, peer, scheme and host rarely change from one request to the next, and writing
/// them (two addresses in decimal, the host checked and quoted) was ~1,000 instructions a
/// request (callgrind, bench/proxy-cost.sh). Not used behind a trusted proxy, whose chain of
/// addresses is the request's own.
#[derive(Default)]
pub struct ForwardMemo {
    last: Mutex<Option<Memo>>,
}

struct Memo {
    client: IpAddr,
    peer: IpAddr,
    tls: bool,
    send: ForwardHeaders,
    host: Option<Box<[u8]>>,
    /// Every line before the request id's value.
    head: Box<[u8]>,
}

impl ForwardMemo {
    /// The remembered lines for this request, in a buffer with room for `more` bytes.
    /// `host` is the request's `Host` as it came, checked or not: lines written for the same
    /// bytes hold for it.
    fn recall(&self, fwd: &Forwarding<'_>, host: Option<&[u8]>, more: usize) -> Option<Vec<u8>> {
        let last = self.last.lock();
        let memo =
            last.as_ref().filter(|m| (m.client, m.peer, m.tls, m.send) == (fwd.client, fwd.peer, fwd.tls, fwd.send) && m.host.as_deref() == host)?;
        let mut out = Vec::with_capacity(memo.head.len() + more);
        out.extend_from_slice(&memo.head);
        Some(out)
    }

    fn remember(&self, fwd: &Forwarding<'_>, host: Option<&[u8]>, head: &[u8]) {
        *self.last.lock() = Some(Memo {
            client: fwd.client,
            peer: fwd.peer,
            tls: fwd.tls,
            send: fwd.send,
            host: host.map(Box::from),
            head: Box::from(head),
        });
    }
}

/// Turn the client's request head into the upstream's: origin-form target (the upstream
/// client sends it to the server it picked, with that server as `Host` when the request named
/// none), HTTP/1.1, hop-by-hop removed. The forwarding fields (`X-Forwarded-*`, `Forwarded`,
/// `X-Request-Id`) are returned encoded, for the upstream client to write after the client's
/// own fields (leaving out those they replace): five inserts into the header map, and the
/// rehash that made room for them, cost more than the rest of this together.
pub fn upstream_parts(parts: &mut Parts, fwd: &Forwarding<'_>) -> ForwardFields {
    // An HTTP/2 request carries its host in the `:authority` pseudo-header only; the upstream
    // speaks HTTP/1.1 and needs it as `Host`. (One look-up for both: the value is kept for the
    // forwarding fields.)
    // `get`, not `entry`: an entry reserves room first, and a map built to the size of the
    // client's fields (every HTTP/1 request's) would grow and rehash for a look-up.
    let host = match parts.headers.get(header::HOST) {
        Some(host) => Some(host.clone()),
        None => parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()).inspect(|authority| {
            parts.headers.insert(header::HOST, authority.clone());
        }),
    };
    // Already in origin form (every HTTP/1 request but a proxy's): left as it is.
    let absolute = parts.uri.scheme().is_some() || parts.uri.authority().is_some();
    if absolute || parts.uri.path_and_query().is_none() {
        parts.uri = parts.uri.path_and_query().map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
    }
    // A WebSocket handshake keeps its upgrade; every other `Upgrade` (h2c) goes with the
    // hop-by-hop fields: see crate::tunnel.
    let may_upgrade = fwd.websocket
        && parts.method == Method::GET
        && (parts.version == Version::HTTP_11 || parts.extensions.get::<crate::tunnel::ExtendedConnect>().is_some());
    parts.version = Version::HTTP_11;
    strip(&mut parts.headers, may_upgrade);
    ForwardFields::new(&parts.headers, host.as_ref(), fwd)
}

/// A byte of an RFC 9110 token (`tchar`).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// The forwarding fields of one request, as the lines of a request head, and which of the
/// client's own fields they replace. Cloning shares the buffer.
#[derive(Clone)]
pub struct ForwardFields {
    lines: Bytes,
    /// The `X-Request-Id` value, sent back to the client too (from the buffer `lines` was cut
    /// from: the end of its last line, or just after it when the id is not sent upstream).
    id: HeaderValue,
    /// The client is a trusted proxy and `Forwarded` is sent: its elements are kept and ours
    /// follow.
    keeps_forwarded: bool,
}

/// The forwarding lines up to the request id's value, those of `fwd.send`: `X-Forwarded-For`
/// (after a trusted proxy's chain), `-Proto`, `-Host`, `Forwarded`, and `x-request-id: `.
fn push_head(out: &mut Vec<u8>, headers: &HeaderMap, host: Option<&str>, fwd: &Forwarding<'_>) {
    let send = fwd.send;
    if send.contains(ForwardHeaders::X_FORWARDED_FOR) {
        out.extend_from_slice(b"x-forwarded-for: ");
        // Keep the chain a trusted proxy gave us; from anyone else it is a forgery and is dropped.
        let mut chained = false;
        if fwd.peer_trusted {
            for prior in headers.get_all(&X_FORWARDED_FOR).iter().filter_map(|v| v.to_str().ok()) {
                out.extend_from_slice(prior.as_bytes());
                out.extend_from_slice(b", ");
                chained = true;
            }
        }
        if !chained && fwd.client != fwd.peer {
            push_ip(out, fwd.client);
            out.extend_from_slice(b", ");
        }
        push_ip(out, fwd.peer);
        out.extend_from_slice(b"\r\n");
    }
    let proto: &[u8] = if fwd.tls { b"https" } else { b"http" };
    if send.contains(ForwardHeaders::X_FORWARDED_PROTO) {
        out.extend_from_slice(b"x-forwarded-proto: ");
        out.extend_from_slice(proto);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(host) = host.filter(|_| send.contains(ForwardHeaders::X_FORWARDED_HOST)) {
        out.extend_from_slice(b"x-forwarded-host: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if send.contains(ForwardHeaders::FORWARDED) {
        out.extend_from_slice(b"forwarded: for=");
        if fwd.client.is_ipv6() {
            out.extend_from_slice(b"\"[");
            push_ip(out, fwd.client);
            out.extend_from_slice(b"]\"");
        } else {
            push_ip(out, fwd.client);
        }
        out.extend_from_slice(b";proto=");
        out.extend_from_slice(proto);
        if let Some(host) = host {
            // A token as it is; otherwise (a port's colon, an IPv6 literal's brackets) a quoted
            // string, which a quote or backslash inside would end early: then no host at all.
            if host.bytes().all(is_tchar) {
                out.extend_from_slice(b";host=");
                out.extend_from_slice(host.as_bytes());
            } else if !host.bytes().any(|b| b == b'"' || b == b'\\') {
                out.extend_from_slice(b";host=\"");
                out.extend_from_slice(host.as_bytes());
                out.push(b'"');
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    if send.contains(ForwardHeaders::X_REQUEST_ID) {
        out.extend_from_slice(b"x-request-id: ");
    }
}

impl ForwardFields {
    fn new(headers: &HeaderMap, host: Option<&HeaderValue>, fwd: &Forwarding<'_>) -> ForwardFields {
        // Written straight into the lines, each value where it belongs. Addresses and the
        // scheme are ours; the host and the trusted chain come from the request's own fields
        // (visible ASCII by then), the id from the configuration: those two are checked, since
        // a CR or LF in one would make a field of its own. The host is the `Host` the client
        // sent (an HTTP/2 request's authority, copied there), port included: what an
        // application needs to build its own absolute URLs (RFC 7239 §5.3).
        let raw_host = host.map(HeaderValue::as_bytes);
        let request_id = Some(fwd.request_id).filter(|id| visible(id)).unwrap_or("-");
        let memo = fwd.memo.filter(|_| !fwd.peer_trusted);
        let mut out = match memo.and_then(|m| m.recall(fwd, raw_host, request_id.len() + 2)) {
            Some(out) => out,
            None => {
                let host = host.and_then(|v| v.to_str().ok()).filter(|h| visible(h));
                let mut out = Vec::with_capacity(196 + 2 * host.map_or(0, str::len) + request_id.len());
                push_head(&mut out, headers, host, fwd);
                if let Some(memo) = memo {
                    memo.remember(fwd, raw_host, &out);
                }
                out
            }
        };
        // The id's value ends the last line, or, not sent, follows the lines (the client gets it
        // from the same buffer either way).
        let id_at = out.len();
        out.extend_from_slice(request_id.as_bytes());
        let id = id_at..out.len();
        let sends_id = fwd.send.contains(ForwardHeaders::X_REQUEST_ID);
        if sends_id {
            out.extend_from_slice(b"\r\n");
        }
        let mut lines = Bytes::from(out);
        // SAFETY: `request_id` has no control byte (checked above, or "-"): every byte is one a
        // `HeaderValue` may hold (SP, VCHAR, obs-text).
        let id = unsafe { HeaderValue::from_maybe_shared_unchecked(lines.slice(id)) };
        if !sends_id {
            lines.truncate(id_at);
        }
        let keeps_forwarded = fwd.peer_trusted && fwd.send.contains(ForwardHeaders::FORWARDED);
        ForwardFields { id, lines, keeps_forwarded }
    }

    /// The fields, each line ending in CRLF.
    pub fn lines(&self) -> &[u8] {
        &self.lines
    }

    /// The request id, for the response to the client.
    pub fn request_id(&self) -> &HeaderValue {
        &self.id
    }

    /// Whether the client's field `name` (lowercase, as `HeaderName` keeps it) is left out of
    /// the upstream request: ours replace every value the client sent, and a field not sent
    /// at all (`forward_headers`) is not passed on from the client either.
    pub fn replaces(&self, name: &str) -> bool {
        match name {
            // A request without a host gets no `X-Forwarded-Host`, and not the client's either.
            "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host" | "x-request-id" => true,
            "forwarded" => !self.keeps_forwarded,
            _ => false,
        }
    }
}

/// No control character (a fold without an early exit: a few vector compares).
fn visible(value: &str) -> bool {
    value.bytes().fold(true, |ok, b| ok & (b >= b' ') & (b != 0x7f))
}

/// Append `ip` as text: IPv4 by hand (every request), IPv6 through `Display`.
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            // On the stack first: one copy into `out`, not a capacity check per digit.
            let (mut text, mut n) = ([0u8; 15], 0);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text[n] = b'.';
                    n += 1;
                }
                if octet >= 100 {
                    text[n] = b'0' + octet / 100;
                    n += 1;
                }
                if octet >= 10 {
                    text[n] = b'0' + octet / 10 % 10;
                    n += 1;
                }
                text[n] = b'0' + octet % 10;
                n += 1;
            }
            out.extend_from_slice(&text[..n]);
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(req: Request<()>) -> Parts {
        req.into_parts().0
    }

    #[test]
    fn every_hop_by_hop_header_is_stripped_and_the_rest_kept() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("Connection", "close"),
            ("Connection", "X-Named"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("Proxy-Authenticate", "Basic"),
            ("TE", "trailers"),
            ("Trailer", "x"),
            ("Upgrade", "websocket"),
            ("Transfer-Encoding", "chunked"),
            ("Transfer-Encoding", "gzip"),
            ("X-Named", "1"),
            ("Accept", "*/*"),
            ("Proxy-Authorization", "Basic eA=="),
        ] {
            h.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        // Proxy-Authorization is not in the list (RFC 9110 leaves it to the proxy it is for).
        assert_eq!(left, ["accept", "proxy-authorization"]);
        // Nothing to strip: left as it is.
        let mut clean = HeaderMap::new();
        clean.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut clean);
        assert_eq!(clean.len(), 1);
    }

    /// A request straight from `client` (no proxy in between, none trusted).
    fn direct<'a>(client: &str, tls: bool, request_id: &'a str) -> Forwarding<'a> {
        let client = client.parse().unwrap();
        Forwarding { client, peer: client, peer_trusted: false, tls, request_id, memo: None, send: ForwardHeaders::ALL, websocket: true }
    }

    /// The fields the upstream receives: the client's that are not replaced, then ours.
    fn sent(p: &Parts, f: &ForwardFields) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = p
            .headers
            .iter()
            .filter(|(n, _)| !f.replaces(n.as_str()))
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let lines = std::str::from_utf8(f.lines()).unwrap();
        assert!(lines.is_empty() || lines.ends_with("\r\n"), "{lines:?}");
        for line in lines.split_terminator("\r\n") {
            let (n, v) = line.split_once(": ").unwrap();
            fields.push((n.to_string(), v.to_string()));
        }
        fields
    }

    fn values<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        fields.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// A connection's requests through one memo: each gets the lines it would get without it,
    /// whatever changed since the last one (host, scheme, client), with its own id.
    #[test]
    fn remembered_lines_are_the_lines_written_afresh() {
        let memo = ForwardMemo::default();
        let cases = [
            ("192.0.2.9", false, "a.example", "id-1"),
            ("192.0.2.9", false, "a.example", "id-2"),
            ("192.0.2.9", false, "b.example:8080", "id-3"),
            ("192.0.2.9", true, "b.example:8080", "id-4"),
            ("2001:db8::7", true, "b.example:8080", "id-5"),
            ("2001:db8::7", true, "b.example:8080", "id-6"),
        ];
        for (client, tls, host, id) in cases {
            let request = || parts(Request::get("/").header("host", host).body(()).unwrap());
            let fresh = upstream_parts(&mut request(), &direct(client, tls, id));
            let remembered = upstream_parts(&mut request(), &Forwarding { memo: Some(&memo), ..direct(client, tls, id) });
            assert_eq!(remembered.lines(), fresh.lines(), "{client} {tls} {host}");
            assert_eq!(remembered.request_id(), id);
        }
        // Behind a trusted proxy the chain is the request's own: nothing is remembered.
        let trusted = ForwardMemo::default();
        let mut p = parts(Request::get("/").header("host", "a.example").header("x-forwarded-for", "203.0.113.5").body(()).unwrap());
        let fwd = Forwarding { peer_trusted: true, memo: Some(&trusted), ..direct("10.0.0.2", false, "id-7") };
        upstream_parts(&mut p, &fwd);
        assert!(trusted.last.lock().is_none());
    }

    #[test]
    fn forwarding_headers_are_set_and_forged_ones_dropped() {
        let mut p = parts(
            Request::get("/contacts?q=a")
                .header("host", "campaign.example.org")
                .header("x-forwarded-for", "6.6.6.6")
                .header("x-forwarded-host", "evil.example")
                .header("x-forwarded-proto", "http")
                .header("forwarded", "for=6.6.6.6")
                .header("x-request-id", "forged")
                .header("connection", "keep-alive, x-secret")
                .header("x-secret", "1")
                .body(())
                .unwrap(),
        );
        let fwd = direct("192.0.2.9", true, "abc-1");
        let f = upstream_parts(&mut p, &fwd);
        assert_eq!(f.request_id(), "abc-1");
        assert_eq!(p.uri, "/contacts?q=a");
        let sent = sent(&p, &f);
        assert_eq!(values(&sent, "x-forwarded-for"), ["192.0.2.9"]);
        assert_eq!(values(&sent, "x-forwarded-proto"), ["https"]);
        assert_eq!(values(&sent, "x-forwarded-host"), ["campaign.example.org"]);
        assert_eq!(values(&sent, "x-request-id"), ["abc-1"]);
        assert_eq!(values(&sent, "forwarded"), ["for=192.0.2.9;proto=https;host=campaign.example.org"]);
        assert!(values(&sent, "x-secret").is_empty());
        assert!(values(&sent, "connection").is_empty());
        assert_eq!(values(&sent, "host"), ["campaign.example.org"]);
    }

    #[test]
    fn the_host_is_forwarded_with_its_port_quoted_where_forwarded_needs_it() {
        for (sent_host, forwarded) in [
            ("app.example:8443", r#"for=192.0.2.9;proto=http;host="app.example:8443""#),
            ("[2001:db8::1]:80", r#"for=192.0.2.9;proto=http;host="[2001:db8::1]:80""#),
            ("app.example", "for=192.0.2.9;proto=http;host=app.example"),
            // A quote would end the quoted string early: no host element at all.
            ("a\"b", "for=192.0.2.9;proto=http"),
        ] {
            let mut p = parts(Request::get("/").header("host", sent_host).body(()).unwrap());
            let fwd = direct("192.0.2.9", false, "id-1");
            let f = upstream_parts(&mut p, &fwd);
            let sent = sent(&p, &f);
            assert_eq!(values(&sent, "x-forwarded-host"), [sent_host]);
            assert_eq!(values(&sent, "forwarded"), [forwarded]);
        }
    }

    #[test]
    fn an_invalid_value_is_left_out_not_written() {
        let mut p = parts(Request::get("/").header("host", "app").body(()).unwrap());
        let fwd = direct("192.0.2.9", false, "a\r\nx-injected: 1");
        let f = upstream_parts(&mut p, &fwd);
        let sent = sent(&p, &f);
        assert!(values(&sent, "x-injected").is_empty());
        assert_eq!(values(&sent, "x-request-id"), ["-"]);
        assert_eq!(f.request_id(), "-");
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in ["0.0.0.0", "127.0.0.1", "10.20.30.40", "100.9.99.255", "255.255.255.255", "::1", "2001:db8::7", "::ffff:192.0.2.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut s = Vec::new();
            push_ip(&mut s, ip);
            assert_eq!(s, ip.to_string().as_bytes());
        }
    }

    #[test]
    fn trusted_chain_is_extended() {
        let mut p = parts(
            Request::get("/")
                .header("x-forwarded-for", "203.0.113.5")
                .header("forwarded", "for=203.0.113.5")
                .body(())
                .unwrap(),
        );
        let fwd = Forwarding {
            client: "203.0.113.5".parse().unwrap(),
            peer: "10.0.0.2".parse().unwrap(),
            peer_trusted: true,
            tls: false,
            request_id: "x",
            memo: None,
            send: ForwardHeaders::ALL,
            websocket: true,
        };
        let f = upstream_parts(&mut p.clone(), &fwd);
        let sent_all = sent(&p, &f);
        assert_eq!(values(&sent_all, "x-forwarded-for"), ["203.0.113.5, 10.0.0.2"]);
        // The trusted proxy's elements first, ours after.
        assert_eq!(values(&sent_all, "forwarded"), ["for=203.0.113.5", "for=203.0.113.5;proto=http"]);
        // `Forwarded` not sent: not the trusted proxy's elements either (a chain without its
        // last hop).
        let f = upstream_parts(&mut p, &Forwarding { send: ForwardHeaders::ALL.without(ForwardHeaders::FORWARDED), ..fwd });
        let sent = sent(&p, &f);
        assert!(values(&sent, "forwarded").is_empty(), "{sent:?}");
        assert_eq!(values(&sent, "x-forwarded-for"), ["203.0.113.5, 10.0.0.2"]);
    }

    /// `forward_headers` names what is written; the client's copies of every field are dropped
    /// whatever it names, and the request id reaches the client either way.
    #[test]
    fn only_the_chosen_fields_are_written() {
        let request = || {
            parts(
                Request::get("/")
                    .header("host", "campaign.example.org")
                    .header("x-forwarded-for", "6.6.6.6")
                    .header("x-forwarded-host", "evil.example")
                    .header("forwarded", "for=6.6.6.6")
                    .header("x-request-id", "forged")
                    .header("accept", "*/*")
                    .body(())
                    .unwrap(),
            )
        };
        let memo = ForwardMemo::default();
        for (i, &(_, field)) in ForwardHeaders::NAMES.iter().enumerate() {
            for send in [field, ForwardHeaders::ALL.without(field), ForwardHeaders::NONE] {
                let id = format!("id-{i}");
                // With and without the connection's memo (which must not hand one set's lines
                // to another): the same fields.
                for memo in [None, Some(&memo)] {
                    let mut p = request();
                    let f = upstream_parts(&mut p, &Forwarding { send, memo, ..direct("192.0.2.9", false, &id) });
                    let sent = sent(&p, &f);
                    let names: Vec<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
                    let expected: Vec<&str> = ["host", "accept"]
                        .into_iter()
                        .chain(ForwardHeaders::NAMES.iter().filter(|(_, f)| send.contains(*f)).map(|(n, _)| *n))
                        .collect();
                    assert_eq!(names, expected, "{send:?}");
                    assert!(!sent.iter().any(|(_, v)| v.contains("6.6.6.6") || v == "evil.example" || v == "forged"), "{sent:?}");
                    assert_eq!(f.request_id(), id.as_str());
                }
            }
        }
    }
}
