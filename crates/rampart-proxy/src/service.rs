//! One request's way through the shield.
//!
//! Order matters, and each step is cheaper than the next: framing checks (a smuggling attempt
//! must never reach a stage or an upstream) → client identity → routing → request-header
//! stages → body limits and body stages → upstream → response stages → log. Every refusal is
//! a page from [`crate::pages`] with the request id.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use rampart_core::{
    Decision, Event, Gate, GateRequest, Outcome, Reply, RequestContext, RequestId, ResponseFacts, TlsFacts, Verdict, GATE_MAX_BODY,
};

use crate::admission::Lane;
use crate::body::{client_body_fault, collect_limited, empty, full, BodyLimitError, ClientBody, GuardedBody, ProxyBody};
use crate::forward::{upstream_parts, Forwarding};
use crate::hygiene::check_framing;
use crate::pages::{accepts_json, refusal, wants_json};
use crate::runtime::{Proxy, Runtime};

mod served;
pub use served::{HostMemo, Served};

/// What the listener knows about the connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnMeta {
    pub peer: SocketAddr,
    /// The socket peer, or the PROXY-protocol source when the peer is a trusted proxy.
    pub client: IpAddr,
    pub local: SocketAddr,
    pub tls: Option<TlsFacts>,
}

/// Handle one request. Never fails: every problem becomes a response.
pub async fn handle(served: Arc<Served>, req: Request<ClientBody>) -> Result<Response<ProxyBody>, Infallible> {
    let (proxy, conn) = (&served.proxy, &served.meta);
    let rt = proxy.runtime_here();
    let started = Instant::now();
    let id = RequestId(proxy.next_request_id());
    // Kept for a refusal page's format (a reference count): most requests are never refused.
    let accept = req.headers().get(http::header::ACCEPT).cloned();
    let json = || accepts_json(accept.as_ref());
    let (mut parts, body) = req.into_parts();

    // Refusals before routing get their access-log line too: an operator searching for the
    // request id printed on a 400 or 404 page must find it.
    let early = |status: StatusCode, close: bool, reason: &str, parts: &http::request::Parts| {
        if rt.access_log {
            log_early(&rt, conn, &id.0, parts, status, reason, started);
        }
        finish(proxy, refusal(status, &id.0, json(), None, close))
    };
    let declared_len = match check_framing(parts.version, &parts.headers) {
        Ok(declared) => declared,
        Err(e) => {
            proxy.metrics.framing_rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(target: "rampart::decision", request_id = %id, client = %conn.client, reason = e.reason(), "ambiguous framing refused");
            return Ok(early(StatusCode::BAD_REQUEST, true, e.reason(), &parts));
        }
    };
    // The HTTP/1 connection refuses these before the service (see `crate::downstream`);
    // hyper's HTTP/2 connection does not know the listener's limits.
    if parts.headers.len() > rt.limits.max_headers {
        return Ok(early(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, true, "too many header fields", &parts));
    }
    let target_len = parts.uri.path_and_query().map(|p| p.as_str().len()).unwrap_or(1);
    if target_len + parts.method.as_str().len() + 10 > rt.limits.max_request_line {
        return Ok(early(StatusCode::URI_TOO_LONG, true, "request line too long", &parts));
    }
    let head_len = target_len
        + parts.method.as_str().len()
        + 12
        + parts.headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum::<usize>();
    if head_len > rt.limits.max_header_bytes {
        return Ok(early(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, true, "request head too large", &parts));
    }
    if declared_len.is_some_and(|n| n > rt.limits.max_body) {
        return Ok(early(StatusCode::PAYLOAD_TOO_LARGE, true, "declared body too large", &parts));
    }
    // CONNECT, a forward proxy's method, asks for a tunnel to wherever it names: not offered,
    // and never sent on. (A WebSocket over HTTP/2 comes as a CONNECT and is a GET by now: see
    // crate::tunnel.)
    if parts.method == http::Method::CONNECT {
        return Ok(early(StatusCode::NOT_IMPLEMENTED, true, "CONNECT is not offered", &parts));
    }

    if let Some(gate) = rt.gate.as_ref().filter(|g| g.owns(parts.uri.path())) {
        // Boxed: rare, and its future (a guarded body being read) would otherwise make every
        // request's future larger.
        return Ok(Box::pin(answer_gate(proxy, &rt, conn, gate.as_ref(), &parts, body, &id.0, started)).await);
    }

    let peer_trusted = rt.identity.is_trusted(conn.peer.ip());
    let client = rt.identity.resolve(conn.client, &parts.headers);
    let host = served.host.host_of(&parts);
    let Some((route_at, route)) = rt.find_route(host.as_deref(), parts.uri.path()) else {
        return Ok(early(StatusCode::NOT_FOUND, false, "no route", &parts));
    };
    let route = route.clone();

    let mut ctx = RequestContext {
        id: id.clone(),
        started,
        wall_clock: SystemTime::now(),
        peer: conn.peer,
        local: conn.local,
        client,
        method: parts.method.clone(),
        uri: parts.uri.clone(),
        version: parts.version,
        headers: std::mem::take(&mut parts.headers),
        host,
        route: Some(route),
        tls: conn.tls.clone(),
        tags: Vec::new(),
        decisions: Vec::new(),
        identity: rampart_core::Identity::default(),
        extensions: http::Extensions::new(),
    };

    let outcome = rt.pipeline.on_request_headers(&mut ctx);
    if let Some(resp) = enforce(&rt, &ctx, &outcome, accept.as_ref()) {
        return Ok(log_and_finish(proxy, &rt, &ctx, resp, None));
    }

    // The body: buffered (bounded) when a stage inspects it, streamed with its guards otherwise.
    let limits = &rt.limits;
    let bodyless = http_body::Body::is_end_stream(&body);
    // Built only where the body is read (it arms a timer).
    let guarded = move || GuardedBody::new(body, limits.max_body, limits.body_min_rate, limits.header_read_timeout);
    // Body-phase stages run for every request, an empty body included: the WAF's phase 2
    // inspects the arguments of a GET too.
    let upstream_body: ProxyBody = if rt.pipeline.wants_request_body_of(&ctx) {
        let cap = limits.max_inspected_body.min(limits.max_body as usize);
        let collected =
            if declared_len == Some(0) { Ok(bytes::Bytes::new()) } else { collect_limited(guarded(), cap).await };
        match collected {
            Ok(bytes) => {
                let outcome = rt.pipeline.on_request_body(&mut ctx, &bytes);
                if let Some(resp) = enforce(&rt, &ctx, &outcome, accept.as_ref()) {
                    return Ok(log_and_finish(proxy, &rt, &ctx, resp, None));
                }
                full(bytes)
            }
            Err(e) => {
                let status = match e.downcast_ref::<BodyLimitError>() {
                    Some(BodyLimitError::TooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
                    Some(BodyLimitError::TooSlow(_)) => StatusCode::REQUEST_TIMEOUT,
                    None => StatusCode::BAD_REQUEST,
                };
                let resp = refusal(status, &id.0, json(), None, true);
                return Ok(log_and_finish(proxy, &rt, &ctx, resp, None));
            }
        }
    } else if bodyless {
        // Nothing to stream or guard (a GET): no body timer to arm.
        empty()
    } else {
        guarded().boxed()
    };

    let Some(pool) = rt.route_pools.get(route_at) else {
        let resp = refusal(StatusCode::BAD_GATEWAY, &id.0, json(), None, false);
        return Ok(log_and_finish(proxy, &rt, &ctx, resp, None));
    };
    let Some(server) = pool.pick() else {
        let resp = refusal(StatusCode::SERVICE_UNAVAILABLE, &id.0, json(), None, false);
        return Ok(log_and_finish(proxy, &rt, &ctx, resp, None));
    };
    // Admission: the pool's concurrency limit, by lane (a request over it waits its turn in
    // calm; while defending, one over its lane's share is shed at once).
    let lane = Lane::of(&ctx.identity);
    let pressure = rt.pressure.as_ref().is_some_and(|p| p.under_pressure());
    // Staff or a clearance holder on a shared worker while the shield defends: served here, and
    // asked to reconnect, so that its next connection goes to its lane's worker. Cleartext
    // HTTP/1 only: TLS connections are not moved.
    let reconnect = pressure
        && lane != Lane::Public
        && conn.tls.is_none()
        && parts.version <= http::Version::HTTP_11
        && crate::workers::current() == Some(crate::workers::Class::Shared)
        && rt.pipeline.can_identify();
    let Some(permit) = pool.admission.acquire(lane, pressure).await else {
        proxy.metrics.shed(lane.as_str());
        ctx.decisions.push(Decision {
            stage: "admission",
            verdict: Verdict::Block { status: 503, reason: "shed: upstream at capacity".into() },
            enforced: true,
        });
        let resp = refusal(StatusCode::SERVICE_UNAVAILABLE, &id.0, json(), Some(std::time::Duration::from_secs(2)), false);
        return Ok(log_and_finish(proxy, &rt, &ctx, resp, None));
    };
    // The upstream request takes the headers themselves when no stage reads them later: no
    // copy (and drop) of the map per request.
    parts.headers = if rt.pipeline.reads_request_headers_late() {
        ctx.headers.clone()
    } else {
        std::mem::take(&mut ctx.headers)
    };
    let fwd = Forwarding {
        client: ctx.client,
        peer: conn.peer.ip(),
        peer_trusted,
        tls: conn.tls.is_some(),
        request_id: &id.0,
        memo: Some(&served.forward),
        send: pool.settings.forward_headers,
        websocket: rt.router.settings(route_at).is_none_or(|r| r.websocket),
    };
    let forwarding = upstream_parts(&mut parts, &fwd);
    // The id's value, sent to the upstream and back to the client.
    let id_value = forwarding.request_id().clone();

    // A request without a body can be sent again: when the chosen server refuses the
    // connection, it goes to another server of the pool once instead of failing.
    let spare = (pool.servers.len() > 1 && is_bodyless(&parts)).then(|| (RequestHead::of(&parts), forwarding.clone()));
    let sent = Instant::now();
    let mut server = server;
    let mut in_flight = pool.begin(server);
    let mut result = pool.send(server.addr, Request::from_parts(parts, upstream_body), Some(forwarding)).await;
    if let (Err(e), Some((head, forwarding))) = (&result, spare) {
        if e.is_connect() {
            // A refused connect is certain: take the server out now, not after N requests.
            server.record_failure(1, pool.settings.eject_for);
            proxy.metrics.upstream_error(&pool.settings.name);
            if let Some(other) = pool.pick().filter(|s| s.addr != server.addr) {
                if let Ok(req) = head.to(other.addr) {
                    tracing::info!(request_id = %id, upstream = %pool.settings.name, refused = %server.addr, retry = %other.addr, "upstream connect refused; retrying on another server");
                    server = other;
                    in_flight = pool.begin(server);
                    result = pool.send(server.addr, req, Some(forwarding)).await;
                }
            }
        }
    }
    let upstream_resp = match result {
        Ok(resp) => {
            let now = Instant::now();
            let took = now.saturating_duration_since(sent);
            pool.admission.record(took, resp.status() == StatusCode::SERVICE_UNAVAILABLE, now);
            // The slot measures the upstream's work, which ends with its response head: a client
            // reading the body slowly must not hold a slot (slow readers would shed everyone).
            drop(permit);
            server.record_success();
            pool.observe_latency(&proxy.metrics, took);
            resp
        }
        Err(e) if e.is_timeout() => {
            server.record_failure(pool.settings.eject_after, pool.settings.eject_for);
            proxy.metrics.upstream_error(&pool.settings.name);
            tracing::warn!(request_id = %id, upstream = %pool.settings.name, server = %server.addr, error = %e, "upstream read timeout");
            let resp = refusal(StatusCode::GATEWAY_TIMEOUT, &id.0, json(), None, false);
            return Ok(log_and_finish(proxy, &rt, &ctx, resp, None));
        }
        Err(e) => {
            // A body we cut (too large, too slow) or the client broke (bad chunks, cut off)
            // surfaces here wrapped in the client's errors: not the upstream's fault, so do not
            // eject the server for it (or a client could eject healthy servers at will).
            let ours = client_body_fault(&e);
            let status = match ours {
                Some(status) => status,
                None => {
                    let after = if e.is_connect() { 1 } else { pool.settings.eject_after };
                    server.record_failure(after, pool.settings.eject_for);
                    proxy.metrics.upstream_error(&pool.settings.name);
                    tracing::warn!(request_id = %id, upstream = %pool.settings.name, server = %server.addr, error = %e, "upstream request failed");
                    StatusCode::BAD_GATEWAY
                }
            };
            let resp = refusal(status, &id.0, json(), None, ours.is_some());
            return Ok(log_and_finish(proxy, &rt, &ctx, resp, None));
        }
    };

    // Hop-by-hop fields were left out as the upstream client parsed the head.
    let (mut resp_parts, resp_body) = upstream_resp.into_parts();
    // A WebSocket tunnel (only a 101 carries one) counts against its server for as long as it
    // is open, not just to its 101 (see crate::tunnel).
    let in_flight = match resp_parts.extensions.get::<crate::tunnel::Tunnel>() {
        Some(tunnel) => {
            tunnel.hold(in_flight);
            None
        }
        None => in_flight,
    };
    // The headers move into the facts the stages see and move back into the response at the
    // end: no copy per request.
    let facts = ResponseFacts { status: resp_parts.status, headers: std::mem::take(&mut resp_parts.headers) };
    let outcome = rt.pipeline.on_response_headers(&mut ctx, &facts);
    if let Some(resp) = enforce(&rt, &ctx, &outcome, accept.as_ref()) {
        return Ok(log_and_finish(proxy, &rt, &ctx, resp, Some(&facts)));
    }
    let body: ProxyBody = if rt.pipeline.wants_response_body_of(&ctx) {
        match collect_limited(resp_body, rt.limits.max_inspected_body).await {
            Ok(bytes) => {
                let outcome = rt.pipeline.on_response_body(&mut ctx, &facts, &bytes);
                if let Some(resp) = enforce(&rt, &ctx, &outcome, accept.as_ref()) {
                    return Ok(log_and_finish(proxy, &rt, &ctx, resp, Some(&facts)));
                }
                full(bytes)
            }
            Err(_) => {
                let resp = refusal(StatusCode::BAD_GATEWAY, &id.0, json(), None, false);
                return Ok(log_and_finish(proxy, &rt, &ctx, resp, Some(&facts)));
            }
        }
    } else {
        // The in-flight count (least-connections) lasts until the body has been sent.
        ProxyBody::new(resp_body.holding(in_flight))
    };
    let mut resp = log_and_finish(proxy, &rt, &ctx, Response::from_parts(resp_parts, body), Some(&facts));
    *resp.headers_mut() = facts.headers;
    resp.headers_mut().insert(crate::forward::X_REQUEST_ID, id_value);
    if reconnect {
        // Its next connection is sorted to its lane's worker (see `listener`).
        resp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    Ok(resp)
}

/// A request to the gate's own paths (`/.rampart/…`): read the small form body, let the gate
/// answer, log it like any other request.
#[allow(clippy::too_many_arguments)]
async fn answer_gate(
    proxy: &Proxy,
    rt: &Runtime,
    conn: &ConnMeta,
    gate: &dyn Gate,
    parts: &http::request::Parts,
    body: ClientBody,
    id: &str,
    started: Instant,
) -> Response<ProxyBody> {
    let limits = &rt.limits;
    let guarded = GuardedBody::new(body, GATE_MAX_BODY as u64, limits.body_min_rate, limits.header_read_timeout);
    let client = rt.identity.resolve(conn.client, &parts.headers);
    let resp = match collect_limited(guarded, GATE_MAX_BODY).await {
        Ok(bytes) => reply(gate.answer(&GateRequest {
            method: &parts.method,
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            body: &bytes,
            client,
            tls: conn.tls.as_ref(),
        })),
        Err(_) => refusal(StatusCode::PAYLOAD_TOO_LARGE, id, wants_json(&parts.headers), None, true),
    };
    if rt.access_log {
        let verdict = if resp.status().is_redirection() || resp.status().is_success() { "allow" } else { "challenge" };
        log_line(rt, conn, id, parts, resp.status(), "challenge endpoint", started, verdict, "challenge");
    }
    finish(proxy, resp)
}

/// A gate's reply as a response.
fn reply(r: Reply) -> Response<ProxyBody> {
    let mut resp = Response::new(full(bytes::Bytes::from(r.body)));
    *resp.status_mut() = r.status;
    *resp.headers_mut() = r.headers;
    resp
}

/// No body now and none to come: safe to send twice.
fn is_bodyless(parts: &http::request::Parts) -> bool {
    let declared = parts.headers.get(http::header::CONTENT_LENGTH);
    !parts.headers.contains_key(http::header::TRANSFER_ENCODING) && declared.is_none_or(|v| v.as_bytes() == b"0")
}

/// What it takes to send a bodyless request again, to another server.
struct RequestHead {
    method: http::Method,
    path_and_query: String,
    headers: http::HeaderMap,
}

impl RequestHead {
    fn of(parts: &http::request::Parts) -> RequestHead {
        RequestHead {
            method: parts.method.clone(),
            path_and_query: parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into()),
            headers: parts.headers.clone(),
        }
    }

    fn to(self, server: SocketAddr) -> Result<Request<ProxyBody>, http::Error> {
        let mut req = Request::builder()
            .method(self.method)
            .uri(format!("http://{server}{}", self.path_and_query))
            .body(full(bytes::Bytes::new()))?;
        *req.headers_mut() = self.headers;
        Ok(req)
    }
}

/// The host the request named, lowercase, without port.
fn request_host(parts: &http::request::Parts) -> Option<String> {
    let raw = match parts.uri.host() {
        Some(h) => h,
        None => parts.headers.get(http::header::HOST).and_then(|v| v.to_str().ok())?,
    };
    let host = if raw.starts_with('[') {
        // `[v6]:port` or `[v6]`: up to and with the bracket.
        match raw.find(']') {
            Some(end) => &raw[..=end],
            None => return Some(format!("{raw}]").to_ascii_lowercase()),
        }
    } else {
        raw.rsplit_once(':').map_or(raw, |(h, _)| h)
    };
    Some(host.to_ascii_lowercase())
}

/// Turn a phase's outcome into a refusal page, or `None` to go on. Emits one event per
/// disruptive decision, enforced or not. `accept` is the request's `Accept` (the page's format).
fn enforce(rt: &Runtime, ctx: &RequestContext, outcome: &Outcome, accept: Option<&http::HeaderValue>) -> Option<Response<ProxyBody>> {
    if matches!(outcome.verdict, Verdict::Continue | Verdict::Allow) {
        return None;
    }
    let id = ctx.id.0.as_ref();
    let json = accepts_json(accept);
    match &outcome.verdict {
        Verdict::Continue | Verdict::Allow => None,
        Verdict::Block { status, .. } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::FORBIDDEN);
            Some(refusal(status, id, json, None, false))
        }
        Verdict::Throttle { retry_after, .. } => {
            Some(refusal(StatusCode::TOO_MANY_REQUESTS, id, json, Some(*retry_after), false))
        }
        Verdict::Challenge { reason } => Some(match &rt.gate {
            Some(gate) => reply(gate.challenge(ctx, reason, json)),
            // No gate to prove anything to: a 503 with a short Retry-After, so that clients
            // back off and browsers retry.
            None => refusal(StatusCode::SERVICE_UNAVAILABLE, id, json, Some(std::time::Duration::from_secs(5)), false),
        }),
    }
}

/// The access-log line of a request refused before routing (framing, size limits, no route):
/// no stage ran, so the verdict is the proxy's own.
fn log_early(
    rt: &Runtime,
    conn: &ConnMeta,
    id: &str,
    parts: &http::request::Parts,
    status: StatusCode,
    reason: &str,
    started: Instant,
) {
    let no_route = status == StatusCode::NOT_FOUND;
    let (verdict, stage) = if no_route { ("continue", "") } else { ("block", "hygiene") };
    log_line(rt, conn, id, parts, status, reason, started, verdict, stage);
}

/// A request refused before the service: an HTTP/2 WebSocket stream beyond its client's
/// connection caps (see crate::listener), with the cap that refused it as `reason`. Its page
/// and its access-log line, as the service's own early refusals have.
pub(crate) fn refuse_tunnel(served: &Served, parts: &http::request::Parts, status: StatusCode, reason: &str) -> Response<ProxyBody> {
    let proxy = &served.proxy;
    let rt = proxy.runtime_here();
    let id = proxy.next_request_id();
    if rt.access_log {
        log_line(&rt, &served.meta, &id, parts, status, reason, Instant::now(), "block", "guard");
    }
    finish(proxy, refusal(status, &id, accepts_json(parts.headers.get(http::header::ACCEPT)), None, false))
}

/// The access-log line of a request that never reached the stages.
#[allow(clippy::too_many_arguments)]
fn log_line(
    rt: &Runtime,
    conn: &ConnMeta,
    id: &str,
    parts: &http::request::Parts,
    status: StatusCode,
    reason: &str,
    started: Instant,
    verdict: &str,
    stage: &str,
) {
    tracing::info!(
        target: "rampart::access",
        request_id = %id,
        client = %rt.identity.resolve(conn.client, &parts.headers),
        peer = %conn.peer,
        method = %parts.method,
        version = ?parts.version,
        host = request_host(parts).as_deref().unwrap_or(""),
        path = parts.uri.path(),
        route = "",
        status = status.as_u16(),
        verdict,
        enforced = true,
        stage,
        reason,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
    );
}

/// Count, log and emit events for a finished exchange, then run the logging phase.
fn log_and_finish(
    proxy: &Proxy,
    rt: &Runtime,
    ctx: &RequestContext,
    resp: Response<ProxyBody>,
    upstream: Option<&ResponseFacts>,
) -> Response<ProxyBody> {
    for d in &ctx.decisions {
        proxy.metrics.verdict(d.stage, d.verdict.kind(), d.enforced);
        proxy.events.emit(Event::Decision {
            at: ctx.wall_clock,
            request: ctx.id.clone(),
            client: ctx.client,
            decision: d.clone(),
        });
    }
    let status = resp.status().as_u16();
    if rt.access_log {
        let decisive = ctx.decisions.iter().rev().find(|d| d.enforced).or(ctx.decisions.last());
        tracing::info!(
            target: "rampart::access",
            request_id = %ctx.id,
            client = %ctx.client,
            peer = %ctx.peer,
            method = %ctx.method,
            version = ?ctx.version,
            host = ctx.host.as_deref().unwrap_or(""),
            path = ctx.uri.path(),
            route = ctx.route.as_ref().map(|r| &*r.name).unwrap_or(""),
            status,
            upstream_status = upstream.map(|u| u.status.as_u16()),
            verdict = decisive.map(|d| d.verdict.kind()).unwrap_or("continue"),
            enforced = decisive.map(|d| d.enforced),
            stage = decisive.map(|d| d.stage).unwrap_or(""),
            reason = decisive.map(|d| d.verdict.reason()).unwrap_or(""),
            duration_ms = ctx.started.elapsed().as_secs_f64() * 1000.0,
        );
    }
    rt.pipeline.on_logging(ctx, upstream);
    // Sensitive routes and flagged-but-served requests: the audit trail gets what went out.
    let resp = crate::metered::meter(&proxy.events, ctx, resp, upstream);
    finish(proxy, resp)
}

fn finish(proxy: &Proxy, resp: Response<ProxyBody>) -> Response<ProxyBody> {
    proxy.metrics.response(resp.status().as_u16());
    resp
}
