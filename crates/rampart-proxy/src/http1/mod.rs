//! What both of the proxy's HTTP/1.1 connections share — the server side that reads clients'
//! requests ([`crate::downstream`]) and the client side that reads upstream servers' responses
//! ([`crate::upstream::h1`]): chunked coding, the field-name cache, head-writing helpers and
//! the socket read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use http::HeaderMap;
use tokio::io::AsyncRead;

pub mod chunked;
pub mod names;
pub mod send;

/// Where `part`, a slice of `base`, lies in it (httparse hands out slices of the buffer it
/// parsed; a head split off that buffer later keeps the same offsets).
pub fn range_in(base: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let at = part.as_ptr() as usize - base.as_ptr() as usize;
    at..at + part.len()
}

/// A message that does not follow HTTP/1.1's syntax, and what is wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub &'static str);

/// One field line.
pub fn push_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `fields` as head lines.
pub fn push_fields(out: &mut Vec<u8>, fields: &HeaderMap) {
    for (name, value) in fields {
        push_field(out, name.as_str(), value.as_bytes());
    }
}

/// A chunk-size line: `len` in hexadecimal, CRLF.
pub fn push_chunk_size(out: &mut Vec<u8>, len: usize) {
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// `n` in decimal.
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A Content-Length value: digits only, no sign, no overflow.
pub fn parse_length(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Read what the connection has into `buf` (with room for at least 1 KiB more).
///
/// Through `AsyncRead`, not `try_read_buf`: a read shorter than the room offered drained the
/// socket, and tokio then forgets its readiness. Left set, the next wait (the next message,
/// on a kept-alive connection) would start with a read that finds nothing.
pub fn poll_read<T: AsyncRead + Unpin>(io: &mut T, buf: &mut BytesMut, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(16 * 1024);
    }
    tokio_util::io::poll_read_buf(Pin::new(io), cx, buf)
}

/// The peer closed the connection (an error a write or read meets then).
pub fn closed(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted)
}
