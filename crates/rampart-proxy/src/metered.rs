//! What went out: the response body of a request the audit trail accounts for, counted as it
//! streams, and reported as one [`Event::Access`] when it ends or is dropped.
//!
//! Two kinds of request are accounted for (see [`accounted`]): every request to a route marked
//! `sensitive` (who read what, how much), and every request a stage flagged without stopping
//! it (a detect-only WAF match answered by the app: the breach assessment needs its status
//! and how much went back). Every other response passes through untouched, with no
//! allocation.
//!
//! The event is emitted from `Drop` as well as at the end of the stream: hyper stops polling a
//! body once `is_end_stream` says it is done, and a client that goes away drops it half sent.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use rampart_core::{Access, Event, EventSink, RequestContext, ResponseFacts};

use crate::body::{BoxError, ProxyBody};

/// A response body that counts its bytes and reports the access when done.
pub struct Metered {
    inner: ProxyBody,
    access: Option<Box<Access>>,
    events: Arc<dyn EventSink>,
}

impl Metered {
    fn emit(&mut self, complete: bool) {
        if let Some(mut access) = self.access.take() {
            access.complete = complete;
            self.events.emit(Event::Access(access));
        }
    }
}

impl Body for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(access)) = (frame.data_ref(), self.access.as_mut()) {
                    access.bytes += data.len() as u64;
                }
            }
            Poll::Ready(Some(Err(_))) => self.emit(false),
            Poll::Ready(None) => self.emit(true),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        let complete = self.inner.is_end_stream();
        self.emit(complete);
    }
}

/// Whether the audit trail accounts for this request: a sensitive route, or a disruptive
/// verdict that was not enforced.
pub fn accounted(ctx: &RequestContext) -> bool {
    ctx.route.as_ref().is_some_and(|r| r.sensitive)
        || ctx.decisions.iter().any(|d| !d.enforced && d.verdict.is_disruptive())
}

/// `resp` with its body metered when the request is [`accounted`] for; unchanged otherwise.
pub fn meter(
    events: &Arc<dyn EventSink>,
    ctx: &RequestContext,
    resp: Response<ProxyBody>,
    upstream: Option<&ResponseFacts>,
) -> Response<ProxyBody> {
    if !accounted(ctx) {
        return resp;
    }
    let access = Box::new(Access {
        at: ctx.wall_clock,
        request: ctx.id.clone(),
        client: ctx.client,
        identity: ctx.identity.clone(),
        method: ctx.method.clone(),
        route: ctx.route.as_ref().map(|r| Arc::clone(&r.name)).unwrap_or_else(|| Arc::from("")),
        path: ctx.path().to_string(),
        sensitive: ctx.route.as_ref().is_some_and(|r| r.sensitive),
        status: resp.status().as_u16(),
        upstream_status: upstream.map(|u| u.status.as_u16()),
        bytes: 0,
        // The exfiltration guard tags the records it counted in a response it let out.
        records: ctx.tags.iter().rev().find(|t| t.key == "records").and_then(|t| t.value.parse().ok()),
        complete: false,
        flagged: ctx
            .decisions
            .iter()
            .filter(|d| !d.enforced && d.verdict.is_disruptive())
            .map(|d| (d.stage, d.verdict.reason().to_string()))
            .collect(),
        rules: ctx.tags.iter().filter(|t| t.key == "waf.rule").map(|t| t.value.clone()).collect(),
    });
    let events = Arc::clone(events);
    resp.map(|inner| Metered { inner, access: Some(access), events }.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use rampart_core::{Decision, RouteInfo, Verdict};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Seen(Mutex<Vec<Access>>);

    impl EventSink for Seen {
        fn emit(&self, event: Event) {
            if let Event::Access(a) = event {
                self.0.lock().unwrap().push(*a);
            }
        }
    }

    fn ctx(sensitive: bool) -> RequestContext {
        let mut ctx = RequestContext::for_test(http::Method::GET, "/contacts/7?q=secret", "192.0.2.9".parse().unwrap());
        ctx.route = Some(RouteInfo { name: Arc::from("contacts"), upstream: Arc::from("app"), sensitive });
        ctx
    }

    #[tokio::test]
    async fn a_sensitive_response_is_counted_and_reported_once() {
        let seen = Arc::new(Seen::default());
        let events: Arc<dyn EventSink> = seen.clone();
        let mut ctx = ctx(true);
        ctx.tag("records", "3");
        let resp = meter(&events, &ctx, Response::new(crate::body::full(vec![7u8; 1234])), None);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), 1234);
        let seen = seen.0.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let a = &seen[0];
        assert_eq!(
            (a.bytes, a.records, a.complete, a.path.as_str(), a.sensitive),
            (1234, Some(3), true, "/contacts/7", true)
        );
    }

    #[tokio::test]
    async fn a_dropped_body_is_reported_incomplete_and_unflagged_requests_pass() {
        let seen = Arc::new(Seen::default());
        let events: Arc<dyn EventSink> = seen.clone();
        let mut flagged = ctx(false);
        flagged.decisions.push(Decision {
            stage: "waf",
            verdict: Verdict::forbidden("waf rule 942100"),
            enforced: false,
        });
        flagged.tag("waf.rule", "942100");
        // Dropped before a byte was sent (the client went away).
        let resp = meter(&events, &flagged, Response::new(crate::body::full("rows")), None);
        drop(resp);
        // Neither sensitive nor flagged: untouched, nothing reported.
        let plain = meter(&events, &ctx(false), Response::new(crate::body::full("x")), None);
        plain.into_body().collect().await.unwrap();
        let seen = seen.0.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].complete, seen[0].bytes), (false, 0));
        assert_eq!(seen[0].flagged, vec![("waf", "waf rule 942100".to_string())]);
        assert_eq!(seen[0].rules, vec!["942100".to_string()]);
    }
}
