//! HTTP hygiene: refuse requests whose framing two parsers could read differently.
//!
//! hyper's parser (httparse) already refuses invalid header names, bare CR, obs-fold and
//! malformed chunked framing. What it accepts but an upstream might read differently is checked
//! here, before a byte goes upstream, so that no request smuggling gets past us: any such
//! request is answered 400 and its connection closed.

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Version};

/// Why a request's framing is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    ContentLengthWithTransferEncoding,
    ConflictingContentLength,
    InvalidContentLength,
    UnsupportedTransferEncoding,
    TransferEncodingOnHttp10,
}

impl FramingError {
    pub fn reason(self) -> &'static str {
        match self {
            FramingError::ContentLengthWithTransferEncoding => "content-length with transfer-encoding",
            FramingError::ConflictingContentLength => "several content-length values",
            FramingError::InvalidContentLength => "invalid content-length",
            FramingError::UnsupportedTransferEncoding => "transfer-encoding other than chunked",
            FramingError::TransferEncodingOnHttp10 => "transfer-encoding on HTTP/1.0",
        }
    }
}

/// Check a request head's framing headers. Returns the declared `Content-Length`, if any (so
/// that the caller does not look it up again).
pub fn check_framing(version: Version, headers: &HeaderMap) -> Result<Option<u64>, FramingError> {
    // One pass over the fields (a handful; comparing a standard name is comparing a number),
    // where the two look-ups it replaces each hashed a name.
    let (mut cl_first, mut cl_more, mut te_first, mut te_more) = (None, false, None, false);
    for (name, value) in headers {
        if *name == CONTENT_LENGTH {
            cl_more |= cl_first.is_some();
            cl_first = cl_first.or(Some(value));
        } else if *name == TRANSFER_ENCODING {
            te_more |= te_first.is_some();
            te_first = te_first.or(Some(value));
        }
    }
    if te_first.is_some() && cl_first.is_some() {
        return Err(FramingError::ContentLengthWithTransferEncoding);
    }
    if cl_more {
        return Err(FramingError::ConflictingContentLength);
    }
    // At most 19 digits: always a u64.
    let declared = match cl_first {
        Some(v) if !v.is_empty() && v.as_bytes().iter().all(u8::is_ascii_digit) && v.len() <= 19 => {
            Some(v.as_bytes().iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
        }
        Some(_) => return Err(FramingError::InvalidContentLength),
        None => None,
    };
    if let Some(first) = te_first {
        if version == Version::HTTP_10 {
            return Err(FramingError::TransferEncodingOnHttp10);
        }
        // Exactly one coding, `chunked`, in exactly one field: anything else (`chunked, gzip`,
        // `xchunked`, a second field) is read differently by different servers.
        let only_chunked = !te_more && first.as_bytes().eq_ignore_ascii_case(b"chunked");
        if !only_chunked {
            return Err(FramingError::UnsupportedTransferEncoding);
        }
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        let v = Version::HTTP_11;
        assert_eq!(check_framing(v, &h(&[("content-length", "5")])), Ok(Some(5)));
        assert_eq!(check_framing(v, &h(&[("content-length", "9999999999999999999")])), Ok(Some(9_999_999_999_999_999_999)));
        assert_eq!(check_framing(v, &h(&[])), Ok(None));
        assert!(check_framing(v, &h(&[("transfer-encoding", "chunked")])).is_ok());
        assert_eq!(
            check_framing(v, &h(&[("content-length", "5"), ("transfer-encoding", "chunked")])),
            Err(FramingError::ContentLengthWithTransferEncoding)
        );
        assert_eq!(
            check_framing(v, &h(&[("content-length", "5"), ("content-length", "6")])),
            Err(FramingError::ConflictingContentLength)
        );
        assert_eq!(check_framing(v, &h(&[("content-length", "+5")])), Err(FramingError::InvalidContentLength));
        assert_eq!(
            check_framing(v, &h(&[("transfer-encoding", "chunked, gzip")])),
            Err(FramingError::UnsupportedTransferEncoding)
        );
        assert_eq!(
            check_framing(v, &h(&[("transfer-encoding", "chunked"), ("transfer-encoding", "chunked")])),
            Err(FramingError::UnsupportedTransferEncoding)
        );
        assert_eq!(
            check_framing(Version::HTTP_10, &h(&[("transfer-encoding", "chunked")])),
            Err(FramingError::TransferEncodingOnHttp10)
        );
    }
}
