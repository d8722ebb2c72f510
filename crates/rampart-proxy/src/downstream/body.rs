//! A request's body, read from the client's connection by whoever polls it: the connection
//! is lent to the body for as long as the body lives, and comes back to the connection's
//! task when the body is dropped (read to its end, or abandoned: the service refused the
//! request, the upstream failed).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Conn;
use bytes::Buf;
use crate::body::BoxError;
use crate::http1::chunked::{Chunked, Decoded};
use crate::http1::{poll_read, Malformed};

/// What a client expecting `100-continue` is sent when its body is first read.
const GO_AHEAD: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A body's progress: what is left of it.
#[derive(Debug)]
pub(super) enum Left {
    Length(u64),
    Chunked(Chunked),
    Done,
}

/// The connection, back from a body, with what is left of the body (to be read to its end
/// before the connection can carry another request).
pub(super) struct Returned<T> {
    pub conn: Box<Conn<T>>,
    pub left: Left,
    /// The client expects a go-ahead it was never sent: it may never send the body.
    pub waiting: bool,
}

/// Where a body leaves the connection when it is dropped.
pub(super) type Home<T> = Arc<Mutex<Option<Returned<T>>>>;

/// A request body being read from the connection it holds.
pub(super) struct RequestBody<T> {
    conn: Option<Box<Conn<T>>>,
    left: Left,
    /// What is still to be written of [`GO_AHEAD`].
    go_ahead: &'static [u8],
    /// The go-ahead was written and is yet to be flushed.
    flush: bool,
    home: Home<T>,
}

impl<T> RequestBody<T> {
    pub(super) fn new(conn: Box<Conn<T>>, left: Left, expect_continue: bool, home: Home<T>) -> RequestBody<T> {
        RequestBody { conn: Some(conn), left, go_ahead: if expect_continue { GO_AHEAD } else { &[] }, flush: false, home }
    }
}

impl<T> Drop for RequestBody<T> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let left = std::mem::replace(&mut self.left, Left::Done);
            *self.home.lock() = Some(Returned { conn, left, waiting: !self.go_ahead.is_empty() });
        }
    }
}

/// The most of an unread body read and thrown away to keep its connection, and how long that
/// may take (nginx discards an unread body the same way; more than this, and the connection
/// closes instead).
const DISCARD_MAX: u64 = 64 * 1024;
const DISCARD_TIME: std::time::Duration = std::time::Duration::from_secs(1);

impl<T: AsyncRead + Unpin> Conn<T> {
    /// Read and throw away what is `left` of a body the service did not read, so that the
    /// connection can carry another request: true once the body has ended. At most
    /// [`DISCARD_MAX`] bytes within [`DISCARD_TIME`]; false (the connection is to close) when
    /// it is longer, slower, or malformed.
    pub(super) async fn discard(&mut self, mut left: Left) -> bool {
        let mut budget = DISCARD_MAX;
        let discarding = std::future::poll_fn(|cx| loop {
            match &mut left {
                Left::Done => return Poll::Ready(true),
                Left::Length(n) => {
                    if *n > budget {
                        return Poll::Ready(false);
                    }
                    let take = (*n).min(self.read.len() as u64);
                    self.read.advance(take as usize);
                    *n -= take;
                    budget -= take;
                    if *n == 0 {
                        return Poll::Ready(true);
                    }
                }
                Left::Chunked(chunk) => match chunk.decode(&mut self.read) {
                    Ok(Decoded::Data(data)) => match budget.checked_sub(data.len() as u64) {
                        Some(rest) => {
                            budget = rest;
                            continue;
                        }
                        None => return Poll::Ready(false),
                    },
                    Ok(Decoded::Trailers(_) | Decoded::End) => return Poll::Ready(true),
                    Ok(Decoded::NeedMore) => {}
                    Err(_) => return Poll::Ready(false),
                },
            }
            match ready!(poll_read(&mut self.io, &mut self.read, cx)) {
                Ok(0) | Err(_) => return Poll::Ready(false),
                Ok(_) => {}
            }
        });
        tokio::time::timeout(DISCARD_TIME, discarding).await.unwrap_or(false)
    }
}

fn closed_in_body() -> BoxError {
    Box::new(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in the request body"))
}

impl<T: AsyncRead + AsyncWrite + Unpin> Body for RequestBody<T> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(conn) = this.conn.as_mut() else { return Poll::Ready(None) };
        // A client that sent its body without waiting needs no go-ahead.
        if !conn.read.is_empty() {
            this.go_ahead = &[];
        }
        while !this.go_ahead.is_empty() {
            match ready!(Pin::new(&mut conn.io).poll_write(cx, this.go_ahead)) {
                Ok(0) => return Poll::Ready(Some(Err(closed_in_body()))),
                Ok(n) => {
                    this.go_ahead = &this.go_ahead[n..];
                    this.flush = this.go_ahead.is_empty();
                }
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
            }
        }
        if this.flush {
            if let Err(e) = ready!(Pin::new(&mut conn.io).poll_flush(cx)) {
                return Poll::Ready(Some(Err(e.into())));
            }
            this.flush = false;
        }
        loop {
            match &mut this.left {
                Left::Done => return Poll::Ready(None),
                Left::Length(left) => {
                    if !conn.read.is_empty() {
                        let n = usize::try_from(*left).unwrap_or(usize::MAX).min(conn.read.len());
                        *left -= n as u64;
                        if *left == 0 {
                            this.left = Left::Done;
                        }
                        return Poll::Ready(Some(Ok(Frame::data(conn.read.split_to(n).freeze()))));
                    }
                }
                Left::Chunked(chunk) => match chunk.decode(&mut conn.read) {
                    Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Decoded::Trailers(trailers)) => {
                        this.left = Left::Done;
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    Ok(Decoded::End) => {
                        this.left = Left::Done;
                        return Poll::Ready(None);
                    }
                    Ok(Decoded::NeedMore) => {}
                    Err(Malformed(why)) => return Poll::Ready(Some(Err(Box::new(Malformed(why))))),
                },
            }
            match ready!(poll_read(&mut conn.io, &mut conn.read, cx)) {
                Ok(0) => return Poll::Ready(Some(Err(closed_in_body()))),
                Ok(_) => {}
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.left, Left::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.left {
            Left::Length(n) => SizeHint::with_exact(n),
            Left::Done => SizeHint::with_exact(0),
            Left::Chunked(_) => SizeHint::default(),
        }
    }
}
