//! Body types: one boxed body for everything we send, and the request-body guards (size cap,
//! minimum rate) that keep slow-POST and oversized uploads from tying up the proxy.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};

/// Errors inside bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every body the proxy sends, to the client or upstream.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// A complete body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// No body. Unlike an empty [`full`], not allocated: the box of a zero-sized body is free.
pub fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A request's body as the client sends it: read from our own HTTP/1 connection
/// ([`crate::downstream`]), from hyper's HTTP/2 stream, or none at all.
pub enum ClientBody {
    Empty,
    H1(ProxyBody),
    H2(hyper::body::Incoming),
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ClientBody::Empty => Poll::Ready(None),
            ClientBody::H1(body) => Pin::new(body).poll_frame(cx),
            ClientBody::H2(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ClientBody::Empty => true,
            ClientBody::H1(body) => body.is_end_stream(),
            ClientBody::H2(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ClientBody::Empty => SizeHint::with_exact(0),
            ClientBody::H1(body) => body.size_hint(),
            ClientBody::H2(body) => body.size_hint(),
        }
    }
}

/// Why a request body was cut off.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimitError {
    #[error("request body larger than {0} bytes")]
    TooLarge(u64),
    #[error("request body slower than {0} bytes/s")]
    TooSlow(u64),
}

/// The client's own body failed — bad chunked framing, a connection cut mid-body: its fault,
/// answered 400, and never counted against the upstream server.
#[derive(Debug, thiserror::Error)]
#[error("malformed request body: {0}")]
pub struct ClientBodyError(#[source] pub BoxError);

/// The status to answer when a request to the upstream failed because of the client's body
/// (413 too large, 408 too slow, 400 malformed), or `None` when the upstream is to blame.
/// Walks the whole source chain: the HTTP client wraps the body's error in its own, twice.
pub fn client_body_fault(e: &(dyn std::error::Error + 'static)) -> Option<http::StatusCode> {
    let mut cause = Some(e);
    while let Some(err) = cause {
        match err.downcast_ref::<BodyLimitError>() {
            Some(BodyLimitError::TooLarge(_)) => return Some(http::StatusCode::PAYLOAD_TOO_LARGE),
            Some(BodyLimitError::TooSlow(_)) => return Some(http::StatusCode::REQUEST_TIMEOUT),
            None if err.is::<ClientBodyError>() => return Some(http::StatusCode::BAD_REQUEST),
            None => cause = err.source(),
        }
    }
    None
}

pin_project_lite::pin_project! {
    /// A request body that fails once it passes `max` bytes, or once its average rate since the
    /// grace period falls below `min_rate` bytes/s (slow POST). The failure reaches the
    /// upstream as an aborted body and the client connection is closed.
    pub struct GuardedBody<B> {
        #[pin]
        inner: B,
        seen: u64,
        max: u64,
        min_rate: u64,
        started: Instant,
        grace: Duration,
        #[pin]
        deadline: tokio::time::Sleep,
    }
}

impl<B> GuardedBody<B> {
    pub fn new(inner: B, max: u64, min_rate: u64, grace: Duration) -> GuardedBody<B> {
        let started = Instant::now();
        GuardedBody {
            inner,
            seen: 0,
            max,
            min_rate,
            started,
            grace,
            deadline: tokio::time::sleep(grace),
        }
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.seen += data.len() as u64;
                    if *this.seen > *this.max {
                        return Poll::Ready(Some(Err(Box::new(BodyLimitError::TooLarge(*this.max)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(ClientBodyError(e.into()))))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if *this.min_rate == 0 {
                    return Poll::Pending;
                }
                // Re-arm the timer so that a stalled body is re-examined even when no byte
                // arrives: the check below runs every grace period while we wait.
                if this.deadline.as_mut().poll(cx).is_ready() {
                    let elapsed = this.started.elapsed();
                    let owed = (*this.min_rate as f64 * elapsed.as_secs_f64().max(1.0) * 0.5) as u64;
                    if elapsed > *this.grace && *this.seen < owed {
                        return Poll::Ready(Some(Err(Box::new(BodyLimitError::TooSlow(*this.min_rate)))));
                    }
                    let next = tokio::time::Instant::now() + Duration::from_secs(1);
                    this.deadline.as_mut().reset(next);
                    let _ = this.deadline.as_mut().poll(cx);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

use std::future::Future;

/// Collect a body into memory, up to `max` bytes.
pub async fn collect_limited<B>(body: B, max: usize) -> Result<Bytes, BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let mut body = std::pin::pin!(body);
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Into::into)?;
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > max {
                return Err(Box::new(BodyLimitError::TooLarge(max as u64)));
            }
            buf.extend_from_slice(data);
        }
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn guarded_body_cuts_oversized_bodies() {
        let body = GuardedBody::new(Full::new(Bytes::from(vec![0u8; 100])), 50, 0, Duration::from_secs(1));
        let err = body.collect().await.err().unwrap();
        assert_eq!(err.downcast_ref::<BodyLimitError>(), Some(&BodyLimitError::TooLarge(50)));
        let ok = GuardedBody::new(Full::new(Bytes::from(vec![0u8; 50])), 50, 0, Duration::from_secs(1));
        assert_eq!(ok.collect().await.unwrap().to_bytes().len(), 50);
    }

    /// One data frame, then nothing ever again: a slow-POST client.
    struct Stalling(bool);

    impl Body for Stalling {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            if self.0 {
                return Poll::Pending;
            }
            self.0 = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"abc")))))
        }
    }

    #[test]
    fn client_body_faults_are_found_under_wrappers() {
        #[derive(Debug, thiserror::Error)]
        #[error("wrapper")]
        struct Wrapper(#[source] BoxError);
        let too_large = Wrapper(Box::new(Wrapper(Box::new(BodyLimitError::TooLarge(1)))));
        assert_eq!(client_body_fault(&too_large), Some(http::StatusCode::PAYLOAD_TOO_LARGE));
        let malformed = Wrapper(Box::new(ClientBodyError("bad chunk".into())));
        assert_eq!(client_body_fault(&malformed), Some(http::StatusCode::BAD_REQUEST));
        let upstream = Wrapper(Box::new(std::io::Error::other("connection refused")));
        assert_eq!(client_body_fault(&upstream), None);
    }

    #[tokio::test(start_paused = true)]
    async fn guarded_body_cuts_stalled_bodies() {
        let body = GuardedBody::new(Stalling(false), 1 << 20, 1024, Duration::from_secs(2));
        let err = body.collect().await.err().unwrap();
        assert_eq!(err.downcast_ref::<BodyLimitError>(), Some(&BodyLimitError::TooSlow(1024)));
    }
}
