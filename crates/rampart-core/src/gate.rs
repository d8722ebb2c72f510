//! The [`Gate`]: the part of the challenge that answers requests itself.
//!
//! A stage decides *that* a client must prove it is a browser ([`crate::Verdict::Challenge`]);
//! the gate renders the interstitial page for that verdict and answers the reserved paths
//! (`/.rampart/…`) where a solved challenge is exchanged for a clearance cookie. The proxy
//! holds one gate and knows nothing of tokens or proof-of-work; the gate knows nothing of
//! sockets or hyper.

use std::net::IpAddr;

use http::{HeaderMap, Method, StatusCode};

use crate::context::{RequestContext, TlsFacts};

/// A complete response the gate built: status, headers, body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// The largest request body the proxy reads for the gate's endpoint.
pub const GATE_MAX_BODY: usize = 4096;

/// A request to one of the gate's own paths. The body is small and already read (bounded
/// by [`GATE_MAX_BODY`]).
#[derive(Debug)]
pub struct GateRequest<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub client: IpAddr,
    pub tls: Option<&'a TlsFacts>,
}

/// Whether the shield is defending right now (the flood detector's mode, or an operator's pin):
/// the proxy's admission sheds the lowest lanes only then, and otherwise lets every request
/// through to the upstream as a plain proxy would.
pub trait Pressure: Send + Sync {
    fn under_pressure(&self) -> bool;
}

/// Renders challenges and answers the challenge endpoint.
pub trait Gate: Send + Sync {
    /// Whether `path` is one the gate answers itself (never forwarded upstream).
    fn owns(&self, path: &str) -> bool;

    /// Answer a request to one of the gate's paths.
    fn answer(&self, req: &GateRequest<'_>) -> Reply;

    /// The interstitial page for a challenged request. `json` when the client asked for JSON
    /// (an API client gets a machine-readable challenge it can solve the documented way).
    fn challenge(&self, ctx: &RequestContext, reason: &str, json: bool) -> Reply;
}
