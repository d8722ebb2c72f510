//! Accept loops: the connection guard, the PROXY protocol, TLS, then HTTP.
//!
//! The order is cheapest-refusal-first: the guard's caps cost a map look-up, the PROXY header a
//! peek, the connection-phase stages (deny lists, bans) a look-up, and only then do we pay for a
//! TLS handshake and an HTTP parser.
//!
//! While the shield defends, a new cleartext connection on a shared worker is sorted by its
//! first request head before hyper sees it: when the identifying stages find a priority class
//! (a staff session cookie or header) or a clearance in it, the socket and the bytes read move
//! to that lane's worker (see [`crate::workers`]), away from the flood's. A clearance holder or
//! staff member already on a shared worker is told to reconnect (`Connection: close` on its
//! response, see [`crate::service`]), and its next connection is sorted. Staff networks go to
//! their worker at accept already. TLS connections are not moved.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rampart_core::{ConnectionInfo, Event, TlsFacts, Verdict};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::admission::Lane;
use crate::body::{ClientBody, ProxyBody};
use crate::downstream;
use crate::drain::{Drain, Watcher};
use crate::h2_frames::AbuseSlot;
use crate::io::GuardedIo;
use crate::proxy_protocol::{self, ProxyHeader};
use crate::runtime::Proxy;
use crate::service::{handle, ConnMeta, Served};
use crate::sniff::SniffedIo;
use crate::settings::{ClientAddressSource, Limits, ListenerSettings};
use crate::workers::{self, Class};

/// The most header fields of a head read for sorting (see [`lane_worker`]).
const SORTED_MAX_HEADERS: usize = 100;

/// Serve `listener` until `shutdown` turns true, then stop accepting and wait up to `drain`
/// for open connections to finish their requests. Connections are accepted on a thread of
/// the listener's own (see [`crate::accept`]) and served on the workers.
pub async fn serve(
    proxy: Arc<Proxy>,
    listener: TcpListener,
    settings: ListenerSettings,
    tls: Option<TlsAcceptor>,
    shutdown: watch::Receiver<bool>,
    drain: Duration,
) {
    let local = listener.local_addr().unwrap_or(settings.address);
    let listener = match listener.into_std() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(listener = %local, error = %e, "cannot take the listener off the runtime: not accepting");
            return;
        }
    };
    let graceful = Arc::new(Drain::new());
    let (watchers, main, http2) = (Arc::clone(&graceful), tokio::runtime::Handle::current(), settings.http2);
    let accepting = Arc::clone(&proxy);
    let take = move |stream: std::net::TcpStream, peer: SocketAddr, priority: bool| {
        let (conn_proxy, tls, watcher) = (Arc::clone(&accepting), tls.clone(), watchers.watcher());
        let connection = move |stream, peer| async move {
            if let Some(conn) = prepare(&conn_proxy, stream, peer, local).await {
                serve_connection(conn_proxy, conn, tls, http2, watcher).await;
            }
        };
        // On a worker thread when there are workers (see crate::workers); on the main runtime
        // otherwise.
        match accepting.workers() {
            Some(workers) => workers.dispatch(
                stream,
                peer,
                if priority { Class::Priority } else { Class::Shared },
                Box::new(move |stream, peer, load| {
                    tokio::spawn(async move {
                        connection(stream, peer).await;
                        drop(load);
                    });
                }),
            ),
            None => {
                main.spawn(async move {
                    match TcpStream::from_std(stream) {
                        Ok(stream) => connection(stream, peer).await,
                        Err(e) => tracing::warn!(error = %e, "cannot register a connection"),
                    }
                });
            }
        }
    };
    let sorting = Arc::clone(&proxy);
    let is_priority = move |peer: &SocketAddr| sorting.runtime().is_priority_peer(peer.ip());
    // Returns once the loop has stopped and closed the socket, before draining: new connections
    // are refused at once (a load balancer fails over) instead of waiting in the listen queue
    // until the process exits.
    crate::accept::run(listener, shutdown, is_priority, take).await;
    tracing::info!(listener = %local, "listener draining");
    // The loop's handle on `graceful` ended with it; were one left, connections still get
    // their `drain` to finish.
    let Ok(graceful) = Arc::try_unwrap(graceful) else {
        tokio::time::sleep(drain).await;
        return;
    };
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(drain) => tracing::warn!(listener = %local, "drain timeout: closing remaining connections"),
    }
}

struct Prepared {
    stream: TcpStream,
    meta: ConnMeta,
    _permit: crate::guard::ConnectionPermit,
}

/// PROXY header, guard, connection-phase stages. `None` when the connection is refused.
async fn prepare(proxy: &Arc<Proxy>, mut stream: TcpStream, peer: SocketAddr, local: SocketAddr) -> Option<Prepared> {
    let rt = proxy.runtime();
    let mut client = peer.ip();
    if rt.identity.source == ClientAddressSource::ProxyProtocol && rt.identity.is_trusted(peer.ip()) {
        match proxy_protocol::read_header(&mut stream, rt.limits.header_read_timeout).await {
            Ok(ProxyHeader::Proxied { source, .. }) => client = source.ip(),
            Ok(ProxyHeader::Local) => {}
            Err(e) => {
                tracing::info!(peer = %peer, error = %e, "PROXY protocol header refused");
                proxy.metrics.refused("proxy_protocol");
                return None;
            }
        }
    }
    let permit = match proxy.guard.admit(client) {
        Ok(p) => p,
        Err(refusal) => {
            proxy.metrics.refused(refusal.as_str());
            return None;
        }
    };
    let info = ConnectionInfo { peer, client, local, tls: None };
    let (outcome, decisions) = rt.pipeline.on_connection(&info);
    for d in &decisions {
        proxy.metrics.verdict(d.stage, d.verdict.kind(), d.enforced);
    }
    if let Verdict::Block { .. } = outcome.verdict {
        proxy.metrics.refused("stage");
        proxy.events.emit(Event::ConnectionRefused {
            at: std::time::SystemTime::now(),
            client,
            reason: outcome.stage.unwrap_or("stage"),
        });
        return None;
    }
    proxy.metrics.connections_accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    Some(Prepared { stream, meta: ConnMeta { peer, client, local, tls: None }, _permit: permit })
}

/// hyper's HTTP/2 connection (ALPN `h2`, or the HTTP/2 preface on a cleartext connection).
fn auto_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_header_list_size(limits.max_header_bytes as u32)
        // Rapid reset (CVE-2023-44487): streams the client opens and cancels before we answer,
        // and streams we must reset for its errors, are bounded; beyond, h2 sends GOAWAY
        // (ENHANCE_YOUR_CALM) and closes. CONTINUATION floods end at `max_header_list_size`;
        // h2 keeps at most one pending PING and SETTINGS acknowledgement.
        .max_pending_accept_reset_streams(Some(64))
        .max_local_error_reset_streams(Some(256))
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10))
        // WebSocket over HTTP/2 (RFC 8441): see crate::tunnel.
        .enable_connect_protocol();
    b
}

async fn serve_connection(
    proxy: Arc<Proxy>,
    conn: Prepared,
    tls: Option<TlsAcceptor>,
    http2: bool,
    watcher: Watcher,
) {
    let Some(acceptor) = tls else {
        return serve_cleartext(proxy, conn, http2, watcher).await;
    };
    let Prepared { stream, mut meta, _permit } = conn;
    let (counting, client) = (Arc::clone(&proxy), meta.client);
    let limits = proxy.runtime().limits.clone();
    let io = GuardedIo::new(stream, limits.idle_timeout, limits.write_timeout);
    let handshake = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(io)).await;
    let tls_stream = match handshake {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(peer = %meta.peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            proxy.metrics.refused("tls_handshake_timeout");
            return;
        }
    };
    let (_, session) = tls_stream.get_ref();
    let alpn = session.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
    meta.tls = Some(TlsFacts {
        sni: session.server_name().map(str::to_string),
        version: session.protocol_version().and_then(|v| v.as_str()),
        alpn: alpn.clone(),
    });
    let served = Arc::new(Served::new(proxy, meta));
    if alpn.as_deref() == Some("h2") {
        let cut = AbuseSlot::default();
        let io = TokioIo::new(SniffedIo::new(tls_stream).guarded(&cut, limits.max_header_bytes as u64));
        let conn = auto_builder(&limits).http2_only().serve_connection(io, h2_service(served, &watcher)).into_owned();
        if let Err(e) = watcher.watch(conn, |c| c.graceful_shutdown()).await {
            count_h2_abuse(&counting, client, &cut, e.as_ref());
            tracing::debug!(error = %e, "TLS connection ended with an error");
        }
    } else {
        downstream::serve(tls_stream, BytesMut::new(), served, watcher, &limits).await;
    }
}

/// The service as hyper's HTTP/2 connection calls it.
///
/// An extended `CONNECT` for a WebSocket (RFC 8441) is served as its HTTP/1.1 handshake and
/// answered with the stream's tunnel (see [`crate::tunnel`]); `watcher` is the connection's
/// part in the drain, which the tunnels' own parts come from.
fn h2_service(
    served: Arc<Served>,
    watcher: &Watcher,
) -> impl hyper::service::Service<Request<Incoming>, Response = http::Response<ProxyBody>, Error = std::convert::Infallible, Future: Send> + Clone
{
    let tunnels = Arc::new(watcher.sibling());
    service_fn(move |mut req: Request<Incoming>| {
        let served = Arc::clone(&served);
        let websocket = crate::tunnel::h2_handshake(&mut req).map(|upgrade| (upgrade, tunnels.sibling()));
        async move {
            let Some((upgrade, watcher)) = websocket else {
                return handle(served, req.map(ClientBody::H2)).await;
            };
            // A tunnel holds an upstream connection as long as it is open: it counts against
            // the client's connection caps, as it would over HTTP/1.1 (one connection each).
            let permit = match served.proxy.guard.admit_tunnel(served.meta.client) {
                Ok(permit) => permit,
                Err(refused) => {
                    served.proxy.metrics.refused(refused.as_str());
                    let status = match refused {
                        crate::guard::Refusal::TotalCap => http::StatusCode::SERVICE_UNAVAILABLE,
                        _ => http::StatusCode::TOO_MANY_REQUESTS,
                    };
                    let (parts, _) = req.into_parts();
                    return Ok(crate::service::refuse_tunnel(&served, &parts, status, refused.as_str()));
                }
            };
            let proxy = Arc::clone(&served.proxy);
            let Ok(resp) = handle(served, req.map(ClientBody::H2)).await;
            Ok(crate::tunnel::h2_answer(resp, upgrade, proxy, watcher, permit))
        }
    })
}

/// A cleartext connection: sorted to its lane's worker first when that applies (see the
/// module's documentation), then served here.
async fn serve_cleartext(proxy: Arc<Proxy>, conn: Prepared, http2: bool, watcher: Watcher) {
    let Prepared { mut stream, meta, _permit } = conn;
    let limits = proxy.runtime().limits.clone();
    let mut prefix = Bytes::new();
    if sorting_applies(&proxy) {
        let Some(head) = read_head(&mut stream, &limits).await else { return };
        if let Some(class) = lane_worker(&proxy, &meta, &head) {
            if let Some(workers) = proxy.workers() {
                let stream = match stream.into_std() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot hand a connection to its lane's worker");
                        return;
                    }
                };
                proxy.metrics.moved(class.as_str());
                let moving = Arc::clone(&proxy);
                workers.dispatch(
                    stream,
                    meta.peer,
                    class,
                    Box::new(move |stream, _, load| {
                        tokio::spawn(async move {
                            serve_http(moving, Prepared { stream, meta, _permit }, head, http2, watcher).await;
                            drop(load);
                        });
                    }),
                );
                return;
            }
        }
        prefix = head;
    }
    serve_http(proxy, Prepared { stream, meta, _permit }, prefix, http2, watcher).await;
}

/// Serve a cleartext connection, `prefix` (bytes already read from it) first: HTTP/1.1 on our
/// own connection ([`crate::downstream`]), or, where the listener allows it, HTTP/2 with prior
/// knowledge on hyper's.
async fn serve_http(proxy: Arc<Proxy>, conn: Prepared, prefix: Bytes, http2: bool, watcher: Watcher) {
    let Prepared { stream, meta, _permit } = conn;
    let (counting, client) = (Arc::clone(&proxy), meta.client);
    let limits = proxy.runtime().limits.clone();
    let served = Arc::new(Served::new(proxy, meta));
    let mut io = GuardedIo::new(stream, limits.idle_timeout, limits.write_timeout);
    let mut read = BytesMut::from(prefix);
    if http2 {
        match speaks_h2(&mut io, &mut read, &limits).await {
            None => return,
            Some(false) => {}
            Some(true) => {
                let cut = AbuseSlot::default();
                let io = SniffedIo::new(io).prefixed(read.freeze()).guarded(&cut, limits.max_header_bytes as u64);
                let conn = auto_builder(&limits).http2_only().serve_connection(TokioIo::new(io), h2_service(served, &watcher)).into_owned();
                if let Err(e) = watcher.watch(conn, |c| c.graceful_shutdown()).await {
                    count_h2_abuse(&counting, client, &cut, e.as_ref());
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
        }
    }
    downstream::serve(io, read, served, watcher, &limits).await;
}

/// Whether a cleartext client speaks HTTP/2 with prior knowledge: reads (into `read`) until
/// the client's bytes differ from the HTTP/2 preface or match all of it. `None` when the
/// connection ended or the header read timeout passed first.
async fn speaks_h2<T: AsyncRead + Unpin>(io: &mut T, read: &mut BytesMut, limits: &Limits) -> Option<bool> {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    read.reserve(4096);
    let reading = async {
        loop {
            let n = read.len().min(PREFACE.len());
            if read[..n] != PREFACE[..n] {
                return Some(false);
            }
            if n == PREFACE.len() {
                return Some(true);
            }
            match io.read_buf(read).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limits.header_read_timeout, reading).await.ok().flatten()
}

/// Whether a new connection here is sorted by its first request head: on a shared worker,
/// while the shield defends, with a stage that can tell staff sessions or clearances apart.
fn sorting_applies(proxy: &Proxy) -> bool {
    let rt = proxy.runtime();
    workers::current() == Some(Class::Shared)
        && rt.pressure.as_ref().is_some_and(|p| p.under_pressure())
        && rt.pipeline.can_identify()
}

/// Read the connection's first request head (up to its blank line, the listener's head size
/// limit, or the end of the stream): what was read, for the parser to read again; `None` when
/// the header read timeout passed first or the read failed.
async fn read_head(stream: &mut TcpStream, limits: &Limits) -> Option<Bytes> {
    use tokio::io::AsyncReadExt;
    let cap = limits.max_header_bytes;
    let mut buf = BytesMut::with_capacity(4096);
    let reading = async {
        loop {
            let searched = buf.len().saturating_sub(3);
            match stream.read_buf(&mut buf).await {
                Ok(0) => return true,
                Ok(_) => {
                    if memchr::memmem::find(&buf[searched..], b"\r\n\r\n").is_some() || buf.len() >= cap {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    };
    match tokio::time::timeout(limits.header_read_timeout, reading).await {
        Ok(true) => Some(buf.freeze()),
        _ => None,
    }
}

/// The worker for the identity a request head shows (a priority class or a clearance), or
/// `None` to stay: the public, an HTTP/2 preface, a head that does not parse.
fn lane_worker(proxy: &Proxy, meta: &ConnMeta, head: &[u8]) -> Option<Class> {
    let mut fields = [httparse::EMPTY_HEADER; SORTED_MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    let mut headers = http::HeaderMap::with_capacity(req.headers.len());
    for f in req.headers.iter() {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(f.name.as_bytes()), http::HeaderValue::from_bytes(f.value)) {
            headers.append(name, value);
        }
    }
    let rt = proxy.runtime();
    let method = req.method.and_then(|m| http::Method::from_bytes(m.as_bytes()).ok()).unwrap_or(http::Method::GET);
    let client = rt.identity.resolve(meta.client, &headers);
    let mut ctx = rampart_core::RequestContext::for_head(method, req.path.unwrap_or("/"), client, meta.peer, meta.local, headers);
    rt.pipeline.identify(&mut ctx);
    match Lane::of(&ctx.identity) {
        Lane::Priority => Some(Class::Priority),
        Lane::Cleared => Some(Class::Cleared),
        Lane::Public => None,
    }
}

/// Count (and log) an HTTP/2 connection closed for abuse: by our frame guard (`cut` holds
/// its verdict: h2 keeps only the text of an I/O error, so the error chain cannot carry it) or
/// by h2 (an `h2::Error` whose reason names it).
fn count_h2_abuse(proxy: &Proxy, client: std::net::IpAddr, cut: &AbuseSlot, e: &(dyn std::error::Error + 'static)) {
    if let Some(abuse) = cut.get() {
        proxy.metrics.h2_abuse(abuse.kind());
        tracing::info!(target: "rampart::decision", client = %client, kind = abuse.kind(), "HTTP/2 connection closed for abuse");
        return;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            let kind = match h2.reason() {
                Some(h2::Reason::ENHANCE_YOUR_CALM) => "too_many_resets",
                Some(h2::Reason::PROTOCOL_ERROR) => "protocol_error",
                Some(h2::Reason::FRAME_SIZE_ERROR) => "frame_size",
                Some(h2::Reason::COMPRESSION_ERROR) => "compression",
                Some(h2::Reason::FLOW_CONTROL_ERROR) => "flow_control",
                _ => return,
            };
            if h2.is_go_away() || h2.is_library() || h2.is_remote() {
                proxy.metrics.h2_abuse(kind);
                tracing::info!(target: "rampart::decision", client = %client, kind, "HTTP/2 connection closed for abuse");
            }
            return;
        }
        source = err.source();
    }
}
