//! An HTTP/2 frame guard: follows the frames a client sends, before h2 reads them, and cuts
//! the connection when the client spends the server's work on frames that carry no request.
//!
//! h2 bounds what it must *remember* of such frames (one pending PING and SETTINGS
//! acknowledgement, the header list size, reset streams, the CONTINUATION frames of one header
//! block: see `listener::builder`), but not how many it *answers*: a client that reads its
//! PING acknowledgements can keep a core busy answering them for as long as it likes. Here
//! every connection has budgets, per window of [`WINDOW`], for the frames a legitimate browser
//! sends a handful of:
//!
//! | frame | budget per window | browsers send |
//! |---|---|---|
//! | PING (not acknowledgements) | [`MAX_PINGS`] | one now and then, to measure the round trip |
//! | SETTINGS (not acknowledgements) | [`MAX_SETTINGS`] | one, at the start |
//! | PRIORITY, WINDOW_UPDATE, RST_STREAM, empty DATA and HEADERS | [`MAX_CONTROL`] | a few per request |
//!
//! A header block may also span at most [`H2FrameGuard::max_continuations`] CONTINUATION frames:
//! h2 ends such a flood itself a little later, but its GOAWAY does not say why, and the count
//! should.
//!
//! Over any budget, the next read fails with an [`H2Abuse`] error naming it: the connection is closed,
//! and the listener counts it in `rampart_h2_abuse_total{kind}`.
//!
//! The guard reads the 9-byte frame headers only and skips payloads; it holds a few counters
//! per connection whatever arrives, and stops following (passes everything through) on what is
//! not HTTP/2: the stream's first bytes must be the client preface.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The window the budgets count over.
pub const WINDOW: Duration = Duration::from_secs(10);
/// PING frames (not acknowledgements) per window.
pub const MAX_PINGS: u32 = 100;
/// SETTINGS frames (not acknowledgements) per window.
pub const MAX_SETTINGS: u32 = 100;
/// The frame size a client may use until we raise it (`SETTINGS_MAX_FRAME_SIZE`, RFC 9113).
const DEFAULT_FRAME_SIZE: u64 = 16_384;

/// Frames that carry no request (PRIORITY, WINDOW_UPDATE, RST_STREAM, empty DATA or HEADERS
/// payloads) per window. Generous: a browser streaming a large download sends WINDOW_UPDATEs.
pub const MAX_CONTROL: u32 = 10_000;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const FLAG_ACK: u8 = 0x1;
const FLAG_END_STREAM: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;

/// Why a connection was cut: the budget it went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H2Abuse {
    PingFlood,
    SettingsFlood,
    ControlFlood,
    ContinuationFlood,
}

impl H2Abuse {
    /// The `kind` label of `rampart_h2_abuse_total`.
    pub fn kind(self) -> &'static str {
        match self {
            H2Abuse::PingFlood => "ping_flood",
            H2Abuse::SettingsFlood => "settings_flood",
            H2Abuse::ControlFlood => "control_flood",
            H2Abuse::ContinuationFlood => "continuation_flood",
        }
    }
}

impl fmt::Display for H2Abuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP/2 {} from the client", self.kind().replace('_', " "))
    }
}

impl std::error::Error for H2Abuse {}

/// Where the guard of one connection leaves its verdict for the listener, which counts it when
/// the connection ends.
#[derive(Debug, Clone, Default)]
pub struct AbuseSlot(pub Arc<OnceLock<H2Abuse>>);

impl AbuseSlot {
    pub fn get(&self) -> Option<H2Abuse> {
        self.0.get().copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Matching the preface; `n` bytes matched so far.
    Preface(usize),
    /// Reading a frame header; `n` bytes of it so far.
    Header(usize),
    /// Skipping `n` payload bytes.
    Payload(u32),
    /// Not HTTP/2, or already cut: not following.
    Off,
}

/// Per-connection frame counters.
#[derive(Debug)]
pub struct H2FrameGuard {
    state: State,
    header: [u8; 9],
    window_start: Option<Instant>,
    pings: u32,
    settings: u32,
    control: u32,
    /// CONTINUATION frames since the HEADERS that opened the current block; `None` outside one.
    continuations: Option<u32>,
    max_continuations: u32,
}

impl Default for H2FrameGuard {
    fn default() -> H2FrameGuard {
        H2FrameGuard {
            state: State::Preface(0),
            header: [0; 9],
            window_start: None,
            pings: 0,
            settings: 0,
            control: 0,
            continuations: None,
            max_continuations: 4,
        }
    }
}

impl H2FrameGuard {
    /// Header blocks may be as large as `max_header_bytes` (the listener's limit): they may take
    /// the CONTINUATION frames that needs at the default frame size, and one more. That is
    /// always fewer than h2's own bound (a quarter more, at least five), so this guard is the
    /// one that names the flood. Default: for 32 KiB, 4.
    pub fn max_continuations(mut self, max_header_bytes: u64) -> H2FrameGuard {
        self.max_continuations = (max_header_bytes / DEFAULT_FRAME_SIZE + 1).clamp(1, 4_096) as u32;
        self
    }

    /// Whether the guard still follows the stream.
    pub fn active(&self) -> bool {
        self.state != State::Off
    }

    /// Follow bytes just read from the client; `Err` when a budget is spent (the connection
    /// must be closed; the guard stops following).
    pub fn inspect(&mut self, bytes: &[u8], now: Instant) -> Result<(), H2Abuse> {
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::Off => return Ok(()),
                State::Preface(n) => {
                    let take = (PREFACE.len() - n).min(bytes.len() - i);
                    if bytes[i..i + take] != PREFACE[n..n + take] {
                        self.state = State::Off;
                        return Ok(());
                    }
                    i += take;
                    self.state = if n + take == PREFACE.len() { State::Header(0) } else { State::Preface(n + take) };
                }
                State::Header(n) => {
                    let take = (9 - n).min(bytes.len() - i);
                    self.header[n..n + take].copy_from_slice(&bytes[i..i + take]);
                    i += take;
                    if n + take < 9 {
                        self.state = State::Header(n + take);
                        continue;
                    }
                    if let Err(abuse) = self.frame(now) {
                        self.state = State::Off;
                        return Err(abuse);
                    }
                }
                State::Payload(n) => {
                    let take = (n as usize).min(bytes.len() - i);
                    i += take;
                    let left = n - take as u32;
                    self.state = if left == 0 { State::Header(0) } else { State::Payload(left) };
                }
            }
        }
        Ok(())
    }

    /// A whole frame header is in `self.header`: count the frame.
    fn frame(&mut self, now: Instant) -> Result<(), H2Abuse> {
        let h = self.header;
        let length = u32::from_be_bytes([0, h[0], h[1], h[2]]);
        let (kind, flags) = (h[3], h[4]);
        self.state = if length == 0 { State::Header(0) } else { State::Payload(length) };
        match self.window_start {
            Some(start) if now.duration_since(start) < WINDOW => {}
            _ => {
                self.window_start = Some(now);
                (self.pings, self.settings, self.control) = (0, 0, 0);
            }
        }
        match kind {
            PING if flags & FLAG_ACK == 0 => bump(&mut self.pings, MAX_PINGS, H2Abuse::PingFlood)?,
            SETTINGS if flags & FLAG_ACK == 0 => bump(&mut self.settings, MAX_SETTINGS, H2Abuse::SettingsFlood)?,
            PRIORITY | WINDOW_UPDATE | RST_STREAM => bump(&mut self.control, MAX_CONTROL, H2Abuse::ControlFlood)?,
            // A DATA frame with nothing in it and no end of stream asks work for nothing.
            DATA if length == 0 && flags & FLAG_END_STREAM == 0 => {
                bump(&mut self.control, MAX_CONTROL, H2Abuse::ControlFlood)?
            }
            HEADERS | PUSH_PROMISE => {
                if length == 0 {
                    bump(&mut self.control, MAX_CONTROL, H2Abuse::ControlFlood)?;
                }
                self.continuations = (flags & FLAG_END_HEADERS == 0).then_some(0);
            }
            CONTINUATION => {
                if let Some(n) = self.continuations.as_mut() {
                    *n += 1;
                    if *n > self.max_continuations {
                        return Err(H2Abuse::ContinuationFlood);
                    }
                }
                if flags & FLAG_END_HEADERS != 0 {
                    self.continuations = None;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn bump(counter: &mut u32, max: u32, abuse: H2Abuse) -> Result<(), H2Abuse> {
    *counter += 1;
    if *counter > max {
        Err(abuse)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() as u32).to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], kind, flags, 0, 0, 0, 1];
        f.extend_from_slice(payload);
        f
    }

    fn connection(frames: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
        let mut s = PREFACE.to_vec();
        s.extend(frame(SETTINGS, 0, &[0, 3, 0, 0, 0, 100]));
        for f in frames {
            s.extend(f);
        }
        s
    }

    /// Feed `stream` in chunks of `split` bytes; the first abuse found.
    fn feed(stream: &[u8], split: usize, now: Instant) -> Result<(), H2Abuse> {
        let mut g = H2FrameGuard::default();
        for c in stream.chunks(split) {
            g.inspect(c, now)?;
        }
        Ok(())
    }

    #[test]
    fn an_ordinary_connection_passes_whatever_the_chunking() {
        let stream = connection([
            frame(WINDOW_UPDATE, 0, &[0, 0, 0xff, 0]),
            frame(HEADERS, 0, &[0x82; 300]),
            frame(CONTINUATION, FLAG_END_HEADERS, &[0x84; 40]),
            frame(DATA, FLAG_END_STREAM, b"hello"),
            frame(PING, 0, &[0; 8]),
            frame(PING, FLAG_ACK, &[0; 8]),
            frame(SETTINGS, FLAG_ACK, &[]),
        ]);
        for split in [1, 2, 9, 10, 24, 25, 100, stream.len()] {
            assert_eq!(feed(&stream, split, Instant::now()), Ok(()), "split {split}");
        }
    }

    #[test]
    fn each_flood_is_named_past_its_budget() {
        let now = Instant::now();
        let flood = |f: Vec<u8>, n: u32| connection(std::iter::repeat_n(f, n as usize));
        assert_eq!(feed(&flood(frame(PING, 0, &[7; 8]), MAX_PINGS), 7, now), Ok(()));
        assert_eq!(feed(&flood(frame(PING, 0, &[7; 8]), MAX_PINGS + 1), 7, now), Err(H2Abuse::PingFlood));
        // Acknowledgements are answers to our own frames, not counted.
        assert_eq!(feed(&flood(frame(PING, FLAG_ACK, &[7; 8]), 10 * MAX_PINGS), 7, now), Ok(()));
        assert_eq!(feed(&flood(frame(SETTINGS, 0, &[]), MAX_SETTINGS), 3, now), Err(H2Abuse::SettingsFlood));
        assert_eq!(feed(&flood(frame(PRIORITY, 0, &[0, 0, 0, 3, 16]), MAX_CONTROL + 1), 500, now), Err(H2Abuse::ControlFlood));
        assert_eq!(feed(&flood(frame(DATA, 0, &[]), MAX_CONTROL + 1), 500, now), Err(H2Abuse::ControlFlood));
        assert_eq!(feed(&flood(frame(HEADERS, 0x5, &[]), MAX_CONTROL + 1), 500, now), Err(H2Abuse::ControlFlood));
        let block = |n: usize| {
            let mut b = vec![frame(HEADERS, 0, &[0x82])];
            b.extend(std::iter::repeat_n(frame(CONTINUATION, 0, &[]), n));
            connection(b)
        };
        assert_eq!(feed(&block(4), 4, now), Ok(()));
        assert_eq!(feed(&block(5), 4, now), Err(H2Abuse::ContinuationFlood));
    }

    #[test]
    fn budgets_are_per_window() {
        let mut g = H2FrameGuard::default();
        let t0 = Instant::now();
        g.inspect(&connection([]), t0).unwrap();
        for round in 0..5u32 {
            let at = t0 + WINDOW * round;
            for _ in 0..MAX_PINGS {
                g.inspect(&frame(PING, 0, &[1; 8]), at).unwrap();
            }
        }
        assert_eq!(g.inspect(&frame(PING, 0, &[1; 8]), t0 + WINDOW * 4), Err(H2Abuse::PingFlood));
    }

    #[test]
    fn not_http2_is_not_followed() {
        let mut g = H2FrameGuard::default();
        g.inspect(b"GET / HTTP/1.1\r\n\r\n", Instant::now()).unwrap();
        assert!(!g.active());
        let mut g = H2FrameGuard::default();
        g.inspect(b"PRI * HTTP/2.0\r\n\r\nXX", Instant::now()).unwrap();
        assert!(!g.active(), "a broken preface is h2's to refuse");
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut g = H2FrameGuard::default();
        let now = Instant::now();
        g.inspect(PREFACE, now).unwrap();
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let chunk: Vec<u8> = (0..(x % 40) as usize).map(|i| (x >> (i % 56)) as u8).collect();
            if g.inspect(&chunk, now).is_err() || !g.active() {
                g = H2FrameGuard::default();
                g.inspect(PREFACE, now).unwrap();
            }
        }
    }
}
