//! Turning a test's input into request bytes (as go-ftw sends them) and parsing request bytes
//! back into the parts a transaction needs, as a strict HTTP/1.x server would.

use super::model::Input;

/// A parsed HTTP/1.x request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRequest {
    /// Method.
    pub method: String,
    /// Request target as sent.
    pub uri: String,
    /// `HTTP/1.1`.
    pub version: String,
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body (chunked encoding removed).
    pub body: Vec<u8>,
}

/// Why the bytes are not an HTTP request a server would pass on (it answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad request: {0}")]
pub struct BadRequest(pub String);

/// The bytes go-ftw would send for `input`: `encoded_request` decoded, else built from the
/// method, URI, version, headers and data (adding `Content-Length` and `Connection` when
/// `autocomplete_headers` is on, its default).
pub fn build(input: &Input) -> Result<Vec<u8>, BadRequest> {
    if let Some(enc) = &input.encoded_request {
        return super::base64::decode(enc).ok_or_else(|| BadRequest("encoded_request is not base64".into()));
    }
    let method = input.method.as_deref().unwrap_or("GET");
    let uri = input.uri.as_deref().unwrap_or("/");
    let version = input.version.as_deref().unwrap_or("HTTP/1.1");
    let mut out = if version.is_empty() { format!("{method} {uri}\r\n") } else { format!("{method} {uri} {version}\r\n") }.into_bytes();
    let headers = input.header_list();
    for (k, v) in &headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    let data = input.data.as_deref().unwrap_or("");
    if input.autocomplete_headers.unwrap_or(true) {
        let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        if !has("content-length") && !has("transfer-encoding") {
            out.extend_from_slice(format!("Content-Length: {}\r\n", data.len()).as_bytes());
        }
        if !has("connection") {
            out.extend_from_slice(b"Connection: close\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data.as_bytes());
    Ok(out)
}

/// Parse request bytes.
pub fn parse(bytes: &[u8]) -> Result<RawRequest, BadRequest> {
    let head_end = find(bytes, b"\r\n\r\n").map(|p| (p, p + 4)).or_else(|| find(bytes, b"\n\n").map(|p| (p, p + 2)));
    let (head, body) = match head_end {
        Some((h, b)) => (&bytes[..h], &bytes[b..]),
        None => (bytes, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = line.split(' ').collect();
    // A request line without a version is HTTP/0.9 (httpd passes it on to the WAF).
    let (method, uri, version) = match parts.as_slice() {
        [m, u, v] => (*m, *u, *v),
        [m, u] => (*m, *u, "HTTP/0.9"),
        _ => return Err(BadRequest(format!("malformed request line `{line}`"))),
    };
    if method.is_empty() || !method.bytes().all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)) {
        return Err(BadRequest(format!("bad method `{method}`")));
    }
    let valid_version = version
        .strip_prefix("HTTP/")
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit() || c == b'.'));
    if !valid_version {
        return Err(BadRequest(format!("bad protocol version `{version}`")));
    }
    if uri.is_empty() {
        return Err(BadRequest("empty request target".into()));
    }
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for l in lines {
        if l.starts_with([' ', '\t']) {
            match headers.last_mut() {
                Some((_, v)) => {
                    v.push(b' ');
                    v.extend_from_slice(l.trim().as_bytes());
                    continue;
                }
                None => return Err(BadRequest("folded first header".into())),
            }
        }
        let (k, v) = l.split_once(':').ok_or_else(|| BadRequest(format!("header without colon `{l}`")))?;
        if k.is_empty() || k.ends_with([' ', '\t']) {
            return Err(BadRequest(format!("bad header name `{k}`")));
        }
        headers.push((k.to_string(), v.trim().as_bytes().to_vec()));
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase());
    // Message framing as RFC 9112 §6 (and httpd in CRS CI): chunked wins over Content-Length,
    // which is then dropped; without either, a request has no body.
    let body = if header("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
        dechunk(body)?
    } else if let Some(cl) = header("content-length") {
        let n: usize = cl.trim().parse().map_err(|_| BadRequest(format!("bad Content-Length `{cl}`")))?;
        body[..n.min(body.len())].to_vec()
    } else {
        Vec::new()
    };
    Ok(RawRequest { method: method.to_string(), uri: uri.to_string(), version: version.to_string(), headers, body })
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, BadRequest> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(body, b"\r\n") else { return Ok(out) };
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_text, 16).map_err(|_| BadRequest(format!("bad chunk size `{size_text}`")))?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let take = size.min(body.len());
        out.extend_from_slice(&body[..take]);
        body = &body[take..];
        body = body.strip_prefix(b"\r\n").unwrap_or(body);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_chunks() {
        let input = Input { method: Some("POST".into()), uri: Some("/p?a=1".into()), data: Some("x=1".into()), ..Input::default() };
        let r = parse(&build(&input).unwrap()).unwrap();
        assert_eq!((r.method.as_str(), r.uri.as_str(), r.body.as_slice()), ("POST", "/p?a=1", &b"x=1"[..]));
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nHi \r\n3\r\nCRS\r\n0\r\n\r\n";
        assert_eq!(parse(raw).unwrap().body, b"Hi CRS");
        assert!(parse(b"     GET / HTTP/1.1\r\n\r\n").is_err());
    }
}
