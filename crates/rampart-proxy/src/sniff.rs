//! A framing sniffer: reads the HTTP/1 byte stream as it arrives, before hyper does, to catch
//! the one ambiguity hyper hides from us.
//!
//! A request with both `Content-Length` and `Transfer-Encoding` is the classic smuggling shape.
//! hyper accepts it, deletes the `Content-Length` and reads the body as chunked (RFC 9112
//! allows that), so by the time the request reaches the service the evidence is gone and
//! `hygiene::check_framing` cannot see it. We want it refused, as the RFC also allows, and as
//! an upstream or a second proxy may read it the other way.
//!
//! The sniffer follows request boundaries (head, then a body framed by `Content-Length` or
//! chunked coding) and counts the framing fields of each head. When a head carries both, the
//! last byte of its terminating empty line is replaced by a NUL before hyper reads it: hyper
//! then fails to parse that head, answers 400 and closes the connection, and nothing reaches
//! an upstream. Everything else passes through byte for byte.
//!
//! It stops (passes everything through) on what it cannot follow: the HTTP/2 preface, a line
//! longer than a whole head may be, a malformed chunk size — hyper refuses those itself. HTTP/2
//! connections are followed by the frame guard instead ([`crate::h2_frames`]).
//!
//! Knowing where heads begin and end, it also keeps the header read timeout (a slowloris
//! trickling a head byte by byte is cut after `header_read_timeout`): the first head from the
//! connection's start, every later one from its first byte. This replaces hyper's own timer,
//! which re-armed a timer per request (and, moved earlier than the runtime's next wake-up,
//! cost an `eventfd` write each time); see [`crate::io`] for the lazy timer used instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::h2_frames::{AbuseSlot, H2FrameGuard};
use crate::io::Watchdog;

/// Longest line the sniffer follows by default; longer lines mean hyper will refuse the head
/// anyway (see [`SniffedIo::http1_limits`] for the listener's own head limit).
const MAX_LINE: usize = 16 * 1024;
/// Bytes of a header line kept: its name and, for `Content-Length`, the value.
const NAME_BYTES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a request head.
    Head,
    /// Skipping `n` body bytes.
    Body(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Skipping `n` bytes of chunk data.
    ChunkData(u64),
    /// Skipping the CRLF after chunk data.
    ChunkEnd,
    /// Reading trailer lines after the last chunk.
    Trailers,
    /// Not following this connection any more.
    Off,
}

/// Per-connection sniffer state.
#[derive(Debug)]
pub struct FramingSniffer {
    state: State,
    /// The start of the current line (up to `NAME_BYTES`), and its full length so far.
    line: Vec<u8>,
    line_len: usize,
    /// Lines of the current head so far (the request line is the first).
    head_lines: usize,
    content_length: Option<u64>,
    content_length_fields: usize,
    transfer_encoding_fields: usize,
    /// Longest line followed.
    max_line: usize,
    /// A head has begun (a byte of it read) and not ended.
    head_open: bool,
    /// Heads refused so far (for tests and metrics).
    pub refused: u64,
}

impl Default for FramingSniffer {
    fn default() -> FramingSniffer {
        FramingSniffer {
            state: State::Head,
            line: Vec::with_capacity(NAME_BYTES),
            line_len: 0,
            head_lines: 0,
            content_length: None,
            content_length_fields: 0,
            transfer_encoding_fields: 0,
            max_line: MAX_LINE,
            head_open: false,
            refused: 0,
        }
    }
}

impl FramingSniffer {
    /// Whether the sniffer still follows the stream.
    pub fn active(&self) -> bool {
        self.state != State::Off
    }

    /// Whether a request head has begun and not yet ended (after a line too long to follow,
    /// until the connection ends: hyper refuses such a head).
    pub fn head_open(&self) -> bool {
        self.head_open
    }

    /// Look at (and, for an ambiguous head, alter) bytes just read from the client.
    pub fn inspect(&mut self, bytes: &mut [u8]) {
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::Off => return,
                State::Body(n) | State::ChunkData(n) => {
                    let take = (n as usize).min(bytes.len() - i) as u64;
                    i += take as usize;
                    let left = n - take;
                    self.state = match (self.state, left) {
                        (State::Body(_), 0) => State::Head,
                        (State::Body(_), l) => State::Body(l),
                        (_, 0) => State::ChunkEnd,
                        (_, l) => State::ChunkData(l),
                    };
                }
                State::Head | State::ChunkSize | State::ChunkEnd | State::Trailers => {
                    if self.state == State::Head {
                        self.head_open = true;
                    }
                    // A line at a time: up to the next LF (or the end of what was read), of
                    // which the first NAME_BYTES are kept.
                    let rest = &bytes[i..];
                    let lf = memchr::memchr(b'\n', rest);
                    let part = &rest[..lf.unwrap_or(rest.len())];
                    // A line is kept only when its content is read: of the others, only the
                    // length counts. Decided on its first byte, kept to its end.
                    let keep = if self.line_len == 0 { self.wants_line(part.first().copied()) } else { !self.line.is_empty() };
                    let room = if keep { NAME_BYTES.saturating_sub(self.line.len()) } else { 0 };
                    self.line.extend_from_slice(&part[..part.len().min(room)]);
                    self.line_len += part.len();
                    if self.line_len > self.max_line {
                        self.state = State::Off;
                        return;
                    }
                    match lf {
                        Some(at) => {
                            self.end_of_line(bytes, i + at);
                            i += at + 1;
                        }
                        None => i = bytes.len(),
                    }
                }
            }
        }
    }

    /// Whether a line beginning with `first` is read for its content: the request line, a
    /// header line that may be a framing field (`Content-Length`, `Transfer-Encoding`), a
    /// chunk size, and a line that may be empty (a lone CR).
    fn wants_line(&self, first: Option<u8>) -> bool {
        match self.state {
            State::Head if self.head_lines == 0 => true,
            State::ChunkSize => true,
            _ => matches!(first, Some(b'c' | b'C' | b't' | b'T' | b'\r')),
        }
    }

    fn end_of_line(&mut self, bytes: &mut [u8], at: usize) {
        let line = std::mem::take(&mut self.line);
        let empty = self.line_len == 0 || (self.line_len == 1 && line.first() == Some(&b'\r'));
        self.line_len = 0;
        match self.state {
            State::Head if empty && self.head_lines == 0 => {} // leading empty lines are ignored
            State::Head if empty => self.end_of_head(bytes, at),
            State::Head => {
                if self.head_lines == 0 && line.starts_with(b"PRI * HTTP/2") {
                    self.state = State::Off; // the HTTP/2 preface: not ours to follow
                    self.head_open = false;
                    return;
                }
                if self.head_lines > 0 {
                    self.header_line(&line);
                }
                self.head_lines += 1;
            }
            State::ChunkSize => {
                let digits: Vec<u8> = line.iter().copied().take_while(u8::is_ascii_hexdigit).collect();
                let size = std::str::from_utf8(&digits).ok().and_then(|d| u64::from_str_radix(d, 16).ok());
                self.state = match size {
                    Some(0) => State::Trailers,
                    Some(n) => State::ChunkData(n),
                    None => State::Off,
                };
            }
            State::ChunkEnd => self.state = State::ChunkSize,
            State::Trailers if empty => self.state = State::Head,
            _ => {}
        }
        self.line = line;
        self.line.clear();
    }

    fn header_line(&mut self, line: &[u8]) {
        let name_end = line.iter().position(|&c| c == b':').unwrap_or(line.len());
        let name = &line[..name_end];
        if name.eq_ignore_ascii_case(b"content-length") {
            self.content_length_fields += 1;
            // Only the first bytes of the line are kept: enough for any sane length.
            let value = std::str::from_utf8(&line[(name_end + 1).min(line.len())..]).unwrap_or("");
            self.content_length = value.trim().parse().ok();
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding_fields += 1;
        }
    }

    fn end_of_head(&mut self, bytes: &mut [u8], at: usize) {
        let ambiguous = self.content_length_fields > 0 && self.transfer_encoding_fields > 0;
        self.state = if ambiguous {
            // Make the head unparseable: hyper answers 400 and closes; nothing more to follow.
            bytes[at] = 0;
            self.refused += 1;
            State::Off
        } else if self.transfer_encoding_fields > 0 {
            State::ChunkSize
        } else {
            match self.content_length {
                Some(0) | None if self.content_length_fields == 0 => State::Head,
                Some(0) => State::Head,
                Some(n) => State::Body(n),
                // Unreadable length (or cut by NAME_BYTES): hyper decides; stop following.
                None => State::Off,
            }
        };
        self.head_open = false;
        self.head_lines = 0;
        self.content_length = None;
        self.content_length_fields = 0;
        self.transfer_encoding_fields = 0;
    }
}

/// `T` with a [`FramingSniffer`] (HTTP/1) and an [`H2FrameGuard`] (HTTP/2) on the bytes read
/// from it, and the header read timeout. Writes pass straight through.
pub struct SniffedIo<T> {
    inner: T,
    /// Bytes already taken from the connection (a request head read to choose its worker),
    /// read again before `inner`.
    prefix: bytes::Bytes,
    sniffer: FramingSniffer,
    frames: H2FrameGuard,
    cut: Option<AbuseSlot>,
    head: Option<HeadClock>,
}

/// The header read timeout: when the head being read began, and the timer.
struct HeadClock {
    limit: Duration,
    since: Option<tokio::time::Instant>,
    watch: Watchdog,
}

impl<T> SniffedIo<T> {
    pub fn new(inner: T) -> SniffedIo<T> {
        SniffedIo {
            inner,
            prefix: bytes::Bytes::new(),
            sniffer: FramingSniffer::default(),
            frames: H2FrameGuard::default(),
            cut: None,
            head: None,
        }
    }

    /// Read `prefix` first: bytes already taken from the connection, in order.
    pub fn prefixed(mut self, prefix: bytes::Bytes) -> SniffedIo<T> {
        self.prefix = prefix;
        self
    }

    /// The listener's HTTP/1 head limits: a head must be read whole within `header_read_timeout`
    /// (the first from now, the connection's start), and is at most `max_header_bytes` long.
    pub fn http1_limits(mut self, header_read_timeout: Duration, max_header_bytes: usize) -> SniffedIo<T> {
        self.sniffer.max_line = self.sniffer.max_line.max(max_header_bytes);
        self.head = Some(HeadClock {
            limit: header_read_timeout,
            since: Some(tokio::time::Instant::now()),
            watch: Watchdog::new(header_read_timeout),
        });
        self
    }

    /// Where to leave the frame guard's verdict when it cuts the connection, and the listener's
    /// header size limit (which bounds the CONTINUATION frames of a header block).
    pub fn guarded(mut self, cut: &AbuseSlot, max_header_bytes: u64) -> SniffedIo<T> {
        self.cut = Some(AbuseSlot::clone(cut));
        self.frames = H2FrameGuard::default().max_continuations(max_header_bytes);
        self
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SniffedIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let r = if this.prefix.is_empty() {
            Pin::new(&mut this.inner).poll_read(cx, buf)
        } else {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            Poll::Ready(Ok(()))
        };
        if r.is_pending() {
            if let Some(HeadClock { limit, since: Some(since), watch }) = &mut this.head {
                if watch.passed(*since + *limit, cx) {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "header read timeout")));
                }
            }
        }
        if matches!(r, Poll::Ready(Ok(()))) {
            if this.sniffer.active() {
                this.sniffer.inspect(&mut buf.filled_mut()[before..]);
            }
            if let Some(clock) = &mut this.head {
                if this.sniffer.head_open() {
                    clock.since.get_or_insert_with(tokio::time::Instant::now);
                } else {
                    clock.since = None;
                }
            }
            if this.frames.active() {
                if let Err(abuse) = this.frames.inspect(&buf.filled()[before..], Instant::now()) {
                    if let Some(cut) = &this.cut {
                        let _ = cut.0.set(abuse);
                    }
                    return Poll::Ready(Err(io::Error::other(abuse)));
                }
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SniffedIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (FramingSniffer, Vec<u8>) {
        let mut s = FramingSniffer::default();
        let mut out = Vec::new();
        for c in chunks {
            let mut c = c.to_vec();
            s.inspect(&mut c);
            out.extend_from_slice(&c);
        }
        (s, out)
    }

    #[test]
    fn clean_keep_alive_stream_passes_untouched() {
        let stream: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /f HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nGET /last HTTP/1.1\r\n\r\n";
        for split in [1usize, 3, 7, 64, stream.len()] {
            let chunks: Vec<&[u8]> = stream.chunks(split).collect();
            let (s, out) = run(&chunks);
            assert_eq!(out, stream, "split {split}");
            assert_eq!(s.refused, 0);
            assert_eq!(s.state, State::Head, "split {split}");
        }
    }

    #[test]
    fn cl_with_te_is_broken_at_its_last_byte() {
        let req: &[u8] = b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        for split in [1usize, 5, req.len()] {
            let chunks: Vec<&[u8]> = req.chunks(split).collect();
            let (s, out) = run(&chunks);
            assert_eq!(s.refused, 1);
            let end = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 3;
            assert_eq!(out[end], 0);
            assert_eq!(&out[..end], &req[..end]);
        }
        // The same shape after a clean request on the same connection.
        let (s, _) = run(&[b"GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n"]);
        assert_eq!(s.refused, 1);
    }

    #[test]
    fn body_bytes_are_never_read_as_heads() {
        // A well-framed body that looks like an ambiguous request stays a body.
        let inner = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut req = format!("POST /outer HTTP/1.1\r\nContent-Length: {}\r\n\r\n", inner.len()).into_bytes();
        req.extend_from_slice(inner);
        let (s, out) = run(&[&req]);
        assert_eq!(s.refused, 0);
        assert_eq!(out, req);
    }

    /// Lines are taken a whole run of bytes at a time: every way of cutting a stream gives what
    /// reading it a byte at a time gives (refusals, the bytes altered, where it stops following).
    #[test]
    fn any_cut_of_a_stream_is_judged_as_byte_by_byte() {
        let long_name = format!("X-{}: 1\r\n", "n".repeat(NAME_BYTES * 2));
        let too_long = format!("X-Long: {}\r\n", "v".repeat(MAX_LINE + 10));
        let streams: Vec<Vec<u8>> = vec![
            format!("POST / HTTP/1.1\r\n{long_name}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes(),
            format!("GET / HTTP/1.1\r\n{too_long}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes(),
            b"\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nokPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n".to_vec(),
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET / HTTP/1.1\r\n\r\n".to_vec(),
        ];
        for stream in &streams {
            let one: Vec<&[u8]> = stream.chunks(1).collect();
            let (want, want_out) = run(&one);
            for split in (2..=17).chain([64, 1000, stream.len()]) {
                let chunks: Vec<&[u8]> = stream.chunks(split).collect();
                let (got, out) = run(&chunks);
                assert_eq!(out, want_out, "split {split}");
                assert_eq!((got.refused, got.state, got.head_open), (want.refused, want.state, want.head_open), "split {split}");
            }
        }
    }

    #[test]
    fn http2_preface_turns_it_off() {
        let (s, _) = run(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00"]);
        assert!(!s.active());
    }

    /// Reads from `io` until it fails; the error's kind and when.
    async fn read_until_error<T: AsyncRead + Unpin>(io: &mut SniffedIo<T>) -> (io::ErrorKind, Duration) {
        use tokio::io::AsyncReadExt;
        let started = tokio::time::Instant::now();
        let mut buf = [0u8; 256];
        loop {
            match io.read(&mut buf).await {
                Ok(0) => return (io::ErrorKind::UnexpectedEof, started.elapsed()),
                Ok(_) => {}
                Err(e) => return (e.kind(), started.elapsed()),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_trickled_slower_than_the_header_timeout_is_cut() {
        use tokio::io::AsyncWriteExt;
        let (a, mut b) = tokio::io::duplex(1024);
        let mut io = SniffedIo::new(a).http1_limits(Duration::from_secs(2), 8192);
        tokio::spawn(async move {
            // A complete request at once, then a slowloris: a header byte every 300 ms.
            b.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            b.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if b.write_all(b"X").await.is_err() {
                    return;
                }
            }
        });
        let (kind, after) = read_until_error(&mut io).await;
        assert_eq!(kind, io::ErrorKind::TimedOut);
        // 30 s idle between requests is the idle timeout's business, not the head's; the
        // trickled head is cut 2 s after its first byte.
        assert!(after >= Duration::from_secs(32) && after < Duration::from_millis(32_400), "cut after {after:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_head_is_timed_from_the_connection_start() {
        let (a, _b) = tokio::io::duplex(64);
        let mut io = SniffedIo::new(a).http1_limits(Duration::from_secs(3), 8192);
        let (kind, after) = read_until_error(&mut io).await;
        assert_eq!(kind, io::ErrorKind::TimedOut);
        assert_eq!(after, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn heads_sent_in_time_are_never_cut() {
        use tokio::io::AsyncWriteExt;
        let (a, mut b) = tokio::io::duplex(1024);
        let mut io = SniffedIo::new(a).http1_limits(Duration::from_secs(2), 8192);
        tokio::spawn(async move {
            for _ in 0..20 {
                // Each head in two parts 1.5 s apart, 3 s between requests.
                b.write_all(b"POST /f HTTP/1.1\r\nContent-Length: 4\r\n").await.unwrap();
                tokio::time::sleep(Duration::from_millis(1500)).await;
                b.write_all(b"\r\nbody").await.unwrap();
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        });
        let (kind, after) = read_until_error(&mut io).await;
        assert_eq!(kind, io::ErrorKind::UnexpectedEof, "ended by the peer after {after:?}");
        assert!(after >= Duration::from_secs(90));
    }

    #[tokio::test]
    async fn a_prefix_is_read_and_followed_before_the_stream() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (a, mut b) = tokio::io::duplex(256);
        // An ambiguous head split between the prefix and the stream is still caught.
        let mut io = SniffedIo::new(a).prefixed(bytes::Bytes::from_static(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n"));
        b.write_all(b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n").await.unwrap();
        drop(b);
        let mut small = [0u8; 5];
        io.read_exact(&mut small).await.unwrap();
        assert_eq!(&small, b"POST ");
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert!(rest.starts_with(b"/ HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r"));
        assert_eq!(io.sniffer.refused, 1);
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut s = FramingSniffer::default();
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut chunk: Vec<u8> = (0..(x % 40) as usize).map(|i| [b'\r', b'\n', b'a', b':', b'0', b'f', b' '][(x >> (i % 60)) as usize % 7]).collect();
            s.inspect(&mut chunk);
            if !s.active() {
                s = FramingSniffer::default();
            }
        }
    }
}
