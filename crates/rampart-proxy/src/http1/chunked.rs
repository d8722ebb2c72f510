//! Chunked bodies, a response's or a request's (RFC 9112 §7.1): sizes, extensions (ignored), data, and the
//! trailer section, decoded from the connection's read buffer as it fills.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use super::Malformed;

/// The longest chunk-size line (size, extensions, CRLF) and trailer section accepted.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

/// Where a chunked body's decoding is.
#[derive(Debug, Default)]
pub struct Chunked {
    /// Bytes of the current chunk's data still to come; `None` when a size line is next.
    left: Option<u64>,
    /// The CRLF after a chunk's data is next.
    crlf: bool,
}

pub enum Decoded {
    Data(Bytes),
    Trailers(HeaderMap),
    End,
    NeedMore,
}

impl Chunked {
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, Malformed> {
        loop {
            if self.crlf {
                if buf.len() < 2 {
                    return Ok(Decoded::NeedMore);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(Malformed("chunk not followed by CRLF"));
                }
                buf.advance(2);
                self.crlf = false;
            }
            match self.left {
                Some(0) => {
                    // The last chunk: an empty line, or trailer fields up to one.
                    if buf.len() < 2 {
                        return Ok(Decoded::NeedMore);
                    }
                    if buf.starts_with(b"\r\n") {
                        buf.advance(2);
                        return Ok(Decoded::End);
                    }
                    let Some(end) = find(buf, b"\r\n\r\n", 0) else {
                        if buf.len() > MAX_TRAILERS {
                            return Err(Malformed("trailer section too large"));
                        }
                        return Ok(Decoded::NeedMore);
                    };
                    let section = buf.split_to(end + 4);
                    return parse_trailers(&section).map(Decoded::Trailers);
                }
                Some(left) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let rest = left - n as u64;
                    self.left = if rest == 0 { None } else { Some(rest) };
                    self.crlf = rest == 0;
                    return Ok(Decoded::Data(buf.split_to(n).freeze()));
                }
                None => {
                    let Some(line_end) = find(buf, b"\r\n", 0) else {
                        if buf.len() > MAX_CHUNK_LINE {
                            return Err(Malformed("chunk size line too long"));
                        }
                        return Ok(Decoded::NeedMore);
                    };
                    if line_end > MAX_CHUNK_LINE {
                        return Err(Malformed("chunk size line too long"));
                    }
                    let line = &buf[..line_end];
                    // The size, then optional extensions after `;` (ignored).
                    let digits = line.split(|b| *b == b';').next().unwrap_or_default().trim_ascii_end();
                    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
                        return Err(Malformed("invalid chunk size"));
                    }
                    let size = digits.iter().fold(0u64, |n, d| n << 4 | u64::from((*d as char).to_digit(16).unwrap_or(0)));
                    buf.advance(line_end + 2);
                    self.left = Some(size);
                }
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

/// Trailer fields (`section` ends with the empty line).
fn parse_trailers(section: &[u8]) -> Result<HeaderMap, Malformed> {
    let mut fields = [httparse::EMPTY_HEADER; 32];
    match httparse::parse_headers(section, &mut fields) {
        Ok(httparse::Status::Complete((_, fields))) => {
            let mut trailers = HeaderMap::with_capacity(fields.len());
            for f in fields {
                let name = HeaderName::from_bytes(f.name.as_bytes()).map_err(|_| Malformed("invalid trailer name"))?;
                let value = HeaderValue::from_bytes(f.value).map_err(|_| Malformed("invalid trailer value"))?;
                trailers.append(name, value);
            }
            Ok(trailers)
        }
        _ => Err(Malformed("invalid trailers")),
    }
}

