//! A message body written after its head, by either side of the proxy: what the body has ready
//! is gathered into the head's buffer and written together (one write for a small message),
//! chunked or as it is.

use std::io;
use std::pin::Pin;
use std::task::Poll;

use http_body::Body;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{push_chunk_size, push_fields};
use crate::body::{BoxError, ProxyBody};

/// Bytes gathered before they are written out.
const WRITE_AT: usize = 64 * 1024;

/// How a body goes on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Framing {
    pub chunked: bool,
    /// Trailer fields end a chunked body (dropped otherwise: with a length there is no way to
    /// send them).
    pub trailers: bool,
    /// The length the head declared: a body longer than it is cut there, with an error.
    pub length: Option<u64>,
}

/// Why a body was not written whole.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The body itself failed (its error as it gave it).
    #[error("the body failed: {0}")]
    Body(#[source] BoxError),
    /// Cut where it passed the length its head declared.
    #[error("body of {sent} bytes or more, declared {declared}")]
    Longer { declared: u64, sent: u64 },
}

/// Write `body` after the head already in `out` (which is left empty): returns the body's
/// length.
pub async fn send_body<W: AsyncWrite + Unpin>(io: &mut W, out: &mut Vec<u8>, body: &mut ProxyBody, framing: Framing) -> Result<u64, SendError> {
    let mut sent = 0u64;
    loop {
        let step = std::future::poll_fn(|cx| match Pin::new(&mut *body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(Some(frame)),
            Poll::Pending if !out.is_empty() => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        })
        .await;
        match step {
            // Nothing more ready: out with what is gathered, then wait for the body.
            None => flush(io, out).await?,
            Some(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    sent += data.len() as u64;
                    if let Some(declared) = framing.length.filter(|n| sent > *n) {
                        return Err(SendError::Longer { declared, sent });
                    }
                    if framing.chunked && !data.is_empty() {
                        push_chunk_size(out, data.len());
                        out.extend_from_slice(&data);
                        out.extend_from_slice(b"\r\n");
                    } else {
                        out.extend_from_slice(&data);
                    }
                    // The body says it has ended (its length reached): done without polling
                    // it once more for the end.
                    if body.is_end_stream() {
                        return finish(io, out, framing, sent).await;
                    }
                    if out.len() >= WRITE_AT {
                        flush(io, out).await?;
                    }
                }
                Err(frame) => {
                    if let (true, Ok(fields)) = (framing.chunked, frame.into_trailers()) {
                        out.extend_from_slice(b"0\r\n");
                        if framing.trailers {
                            push_fields(out, &fields);
                        }
                        out.extend_from_slice(b"\r\n");
                        flush(io, out).await?;
                        return Ok(sent);
                    }
                }
            },
            Some(Some(Err(e))) => return Err(SendError::Body(e)),
            Some(None) => return finish(io, out, framing, sent).await,
        }
    }
}

/// The body's end: the last chunk when chunked, and out with what is gathered.
async fn finish<W: AsyncWrite + Unpin>(io: &mut W, out: &mut Vec<u8>, framing: Framing, sent: u64) -> Result<u64, SendError> {
    if framing.chunked {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    flush(io, out).await?;
    Ok(sent)
}

/// Write out what `out` holds, and empty it.
pub async fn flush<W: AsyncWrite + Unpin>(io: &mut W, out: &mut Vec<u8>) -> io::Result<()> {
    io.write_all(out).await?;
    io.flush().await?;
    out.clear();
    Ok(())
}
