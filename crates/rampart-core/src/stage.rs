//! The [`Stage`] trait: one hook per phase of a request's life.
//!
//! Modelled on Pingora's `ProxyHttp` hooks and SecLang's phases 1–5. Every hook has a default
//! that returns [`Verdict::Continue`], so a stage implements only the phases it cares about.
//! Hooks are synchronous on purpose: a stage must decide from local state (counters are
//! local-first, shared state is reconciled in the background), so a hook never waits on I/O.

use crate::context::{ConnectionInfo, RequestContext, ResponseFacts};
use crate::verdict::Verdict;

/// The phases a request passes, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    Connection,
    RequestHeaders,
    RequestBody,
    ResponseHeaders,
    ResponseBody,
    Logging,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Connection => "connection",
            Phase::RequestHeaders => "request_headers",
            Phase::RequestBody => "request_body",
            Phase::ResponseHeaders => "response_headers",
            Phase::ResponseBody => "response_body",
            Phase::Logging => "logging",
        }
    }
}

/// Whether a stage's disruptive verdicts are enforced or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StageMode {
    /// Verdicts take effect (the default).
    #[default]
    Enforce,
    /// Detection only: verdicts are logged and counted, the request goes on.
    Detect,
}

/// What a stage's own failure turns into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Let the request through: the default for availability stages (rate limits, challenge),
    /// where an outage of the shield must not become an outage of the site.
    Open,
    /// Refuse the request with 503: the default for the WAF, where a silent pass would let an
    /// attack through.
    Closed,
}

/// A stage could not decide. Not a verdict: [`OnError`] picks the verdict.
#[derive(Debug, thiserror::Error)]
#[error("stage {stage}: {message}")]
pub struct StageError {
    pub stage: &'static str,
    pub message: String,
}

impl StageError {
    pub fn new(stage: &'static str, message: impl Into<String>) -> StageError {
        StageError { stage, message: message.into() }
    }
}

/// One defensive step of the pipeline.
///
/// A stage is built once from configuration (and again on reload) and shared by every request,
/// so it must be `Send + Sync` and keep per-client state in bounded, concurrent structures.
pub trait Stage: Send + Sync {
    /// A short stable name used in logs, metrics labels and the audit trail (`access`,
    /// `rate_limit`, `waf`).
    fn name(&self) -> &'static str;

    /// Enforce or detect only. Default: enforce.
    fn mode(&self) -> StageMode {
        StageMode::Enforce
    }

    /// What a [`StageError`] from this stage becomes. Default: fail open.
    fn on_error(&self) -> OnError {
        OnError::Open
    }

    /// Whether the proxy must buffer the request body for [`Stage::on_request_body`].
    /// Default: no, so bodies stream straight to the upstream.
    fn wants_request_body(&self) -> bool {
        false
    }

    /// Whether the proxy must buffer the response body for [`Stage::on_response_body`].
    /// Default: no.
    fn wants_response_body(&self) -> bool {
        false
    }

    /// Whether the proxy must buffer this request's body, asked once the request headers have
    /// passed. Default: [`Stage::wants_request_body`]. A stage that reads the bodies of a few
    /// paths only (the login guard) narrows it, so that every other body streams.
    fn wants_request_body_of(&self, _ctx: &RequestContext) -> bool {
        self.wants_request_body()
    }

    /// Whether the proxy must buffer this response's body, asked once the response headers have
    /// passed. Default: [`Stage::wants_response_body`]; narrowed as
    /// [`Stage::wants_request_body_of`] (the exfiltration guard counts records on its routes only).
    fn wants_response_body_of(&self, _ctx: &RequestContext) -> bool {
        self.wants_response_body()
    }

    /// Whether this stage only establishes who the client is (`ctx.identity`) in
    /// [`Stage::on_request_headers`]: no verdict, no counting. The proxy may then run it ahead
    /// of time on a request head it has read but not yet served ([`Pipeline::identify`]), to
    /// choose the worker thread that serves the connection. Default: no.
    ///
    /// [`Pipeline::identify`]: crate::Pipeline::identify
    fn identifies(&self) -> bool {
        false
    }

    /// Whether this stage reads the request's headers (`ctx.headers`) after the request phases:
    /// in the response phases, in the logging phase, or through a `Challenge` it gives there
    /// (the challenge page is made from them). When no stage does, the proxy hands the headers
    /// to the upstream request instead of copying them, and `ctx.headers` is empty from the
    /// response phases on. Default: yes.
    fn reads_request_headers_late(&self) -> bool {
        true
    }

    /// Runs once per accepted connection, before any byte is read. Only `Allow`, `Continue`
    /// and `Block` make sense here; a `Block` closes the connection at once.
    fn on_connection(&self, _conn: &ConnectionInfo) -> Result<Verdict, StageError> {
        Ok(Verdict::Continue)
    }

    /// Bytes held by this stage's keyed state (sketches, top-K, ban lists), for the
    /// `rampart_stage_memory_bytes` gauge. Fixed at construction for bounded structures.
    /// Default: 0.
    fn memory_bytes(&self) -> usize {
        0
    }

    /// Runs when a request head has been parsed and the route is known.
    fn on_request_headers(&self, _ctx: &mut RequestContext) -> Result<Verdict, StageError> {
        Ok(Verdict::Continue)
    }

    /// Runs once with the whole (bounded) request body, when [`Stage::wants_request_body`].
    fn on_request_body(&self, _ctx: &mut RequestContext, _body: &[u8]) -> Result<Verdict, StageError> {
        Ok(Verdict::Continue)
    }

    /// Runs when the upstream's response head has arrived.
    fn on_response_headers(&self, _ctx: &mut RequestContext, _resp: &ResponseFacts) -> Result<Verdict, StageError> {
        Ok(Verdict::Continue)
    }

    /// Runs once with the whole (bounded) response body, when [`Stage::wants_response_body`].
    fn on_response_body(
        &self,
        _ctx: &mut RequestContext,
        _resp: &ResponseFacts,
        _body: &[u8],
    ) -> Result<Verdict, StageError> {
        Ok(Verdict::Continue)
    }

    /// Runs after the exchange, whatever its outcome. Cannot change anything; used for
    /// counting (error rates, login failures, egress budgets).
    fn on_logging(&self, _ctx: &RequestContext, _resp: Option<&ResponseFacts>) {}
}
