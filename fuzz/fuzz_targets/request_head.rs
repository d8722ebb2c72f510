//! A connection's first bytes → PROXY header, httparse (what hyper uses), the service's
//! pre-upstream checks.

#![no_main]

use hyper::http::header::{HeaderName, HeaderValue};
use hyper::http::{HeaderMap, Version};
use libfuzzer_sys::fuzz_target;
use rampart_fuzz::{request_head, Head};

/// The request head as hyper's parser would hand it over, or `None` where hyper answers 400.
fn httparse_head(data: &[u8]) -> Option<Head> {
    let mut fields = [httparse::EMPTY_HEADER; 100];
    let mut req = httparse::Request::new(&mut fields);
    if !matches!(req.parse(data), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    let mut headers = HeaderMap::new();
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        headers.append(name, HeaderValue::from_bytes(h.value).ok()?);
    }
    let version = if req.version? == 0 { Version::HTTP_10 } else { Version::HTTP_11 };
    Some(Head { target: req.path?.to_string(), version, headers })
}

fuzz_target!(|data: &[u8]| {
    request_head(data, httparse_head);
});
