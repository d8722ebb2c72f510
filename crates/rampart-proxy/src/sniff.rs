//! An HTTP/2 connection's byte stream as hyper reads it: bytes already taken from the
//! connection first (the HTTP/2 preface, read to tell the protocol), then the stream, with the
//! frame guard ([`crate::h2_frames`]) following every frame. HTTP/1 connections are served by
//! [`crate::downstream`], which reads its own framing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::h2_frames::{AbuseSlot, H2FrameGuard};

/// `T` with an [`H2FrameGuard`] on the bytes read from it. Writes pass straight through.
pub struct SniffedIo<T> {
    inner: T,
    /// Bytes already taken from the connection, read again before `inner`.
    prefix: bytes::Bytes,
    frames: H2FrameGuard,
    cut: Option<AbuseSlot>,
}

impl<T> SniffedIo<T> {
    pub fn new(inner: T) -> SniffedIo<T> {
        SniffedIo { inner, prefix: bytes::Bytes::new(), frames: H2FrameGuard::default(), cut: None }
    }

    /// Read `prefix` first: bytes already taken from the connection, in order.
    pub fn prefixed(mut self, prefix: bytes::Bytes) -> SniffedIo<T> {
        self.prefix = prefix;
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
        if matches!(r, Poll::Ready(Ok(()))) && this.frames.active() {
            if let Err(abuse) = this.frames.inspect(&buf.filled()[before..], Instant::now()) {
                if let Some(cut) = &this.cut {
                    let _ = cut.0.set(abuse);
                }
                return Poll::Ready(Err(io::Error::other(abuse)));
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_prefix_is_read_before_the_stream() {
        let (a, mut b) = tokio::io::duplex(256);
        let mut io = SniffedIo::new(a).prefixed(bytes::Bytes::from_static(b"PRI * HTTP/2.0\r\n"));
        b.write_all(b"\r\nSM\r\n\r\n").await.unwrap();
        drop(b);
        let mut small = [0u8; 4];
        io.read_exact(&mut small).await.unwrap();
        assert_eq!(&small, b"PRI ");
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"* HTTP/2.0\r\n\r\nSM\r\n\r\n");
    }
}
