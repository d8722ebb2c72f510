//! WebSocket upgrades: a client's `GET` asking for `Upgrade: websocket` goes through the
//! stages like any request and, when the upstream answers `101 Switching Protocols` naming
//! `websocket`, the client's connection and the upstream's are joined and carry bytes both ways
//! until either side closes.
//!
//! Over HTTP/2 (RFC 8441), a client opens a WebSocket with an extended `CONNECT` naming
//! `:protocol = websocket` on a stream of its connection: [`h2_handshake`] turns it into the
//! HTTP/1.1 handshake the upstream takes (a `GET` with the upgrade fields and a fresh
//! `Sec-WebSocket-Key`), which the stages judge as they would the same request over HTTP/1.1;
//! [`h2_answer`] turns the upstream's 101 into the `200` that opens the stream's tunnel.
//!
//! Only WebSocket (RFC 6455 §4), only a bodiless `GET` over HTTP/1.1: any other `Upgrade`
//! (`h2c` above all, the request-smuggling classic: a proxy that forwards it hands the client a
//! raw HTTP/2 connection to the upstream past every rule) is removed as the hop-by-hop field it
//! is, and a 101 the request did not ask for is a malformed response (502). A tunnel's frames
//! are not inspected: the stages judged the handshake. The client side keeps its connection's
//! write timeout (a client that stops reading) and takes the tunnels' idle timeout
//! (`tunnel_idle_timeout`: no byte either way); a drain (shutdown) ends open tunnels. A route
//! with `websocket = false` takes no handshake: its `Upgrade` is dropped like any other.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::BytesMut;
use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderValue, Method, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::body::ProxyBody;
use crate::drain::Watcher;
use crate::guard::ConnectionPermit;
use crate::io::{GuardedIo, IdleLimit};
use crate::metrics::Metrics;
use crate::runtime::Proxy;

/// An upstream connection the server switched to WebSocket: the socket and what was read
/// from it past the 101 head (frames the server sent at once).
pub struct Upgraded {
    pub(crate) stream: TcpStream,
    pub(crate) read: BytesMut,
    /// The server's in-flight count (least-connections), held while the tunnel is open: a
    /// server with many open sockets is a busy one.
    pub(crate) in_flight: Option<crate::upstream::InFlight>,
}

/// The upgraded upstream connection, carried from the upstream client to the client's
/// connection in the 101 response's extensions (which must be `Clone`; the first to take it
/// has it).
#[derive(Clone)]
pub struct Tunnel(Arc<Mutex<Option<Upgraded>>>);

impl Tunnel {
    pub(crate) fn new(upgraded: Upgraded) -> Tunnel {
        Tunnel(Arc::new(Mutex::new(Some(upgraded))))
    }

    pub(crate) fn take(&self) -> Option<Upgraded> {
        self.0.lock().take()
    }

    /// The upgraded upstream connection `resp` carries, taken out of it.
    pub(crate) fn take_from<B>(resp: &mut http::Response<B>) -> Option<Upgraded> {
        resp.extensions_mut().remove::<Tunnel>().and_then(|t| t.take())
    }

    /// Count the tunnel against its server for as long as it is open.
    pub(crate) fn hold(&self, in_flight: Option<crate::upstream::InFlight>) {
        if let Some(upgraded) = self.0.lock().as_mut() {
            upgraded.in_flight = in_flight;
        }
    }
}

/// Whether a request's fields ask for a WebSocket upgrade (RFC 6455 §4.1): an `Upgrade`
/// naming `websocket`, a `Connection` naming `upgrade`, and no body (the method, `GET`, and
/// the version, HTTP/1.1, are the caller's to check).
pub fn asks_websocket(headers: &http::HeaderMap) -> bool {
    names_token(headers.get_all(UPGRADE).iter().map(HeaderValue::as_bytes), b"websocket")
        && names_token(headers.get_all(CONNECTION).iter().map(HeaderValue::as_bytes), b"upgrade")
        && !headers.contains_key(http::header::TRANSFER_ENCODING)
        && headers.get_all(http::header::CONTENT_LENGTH).iter().all(|v| v.as_bytes() == b"0")
}

/// Whether one of the comma-separated tokens of the field `values` is `token` (ASCII
/// case-insensitive). An `Upgrade` token may carry a version (`websocket/13`): the protocol
/// name is what counts.
pub(crate) fn names_token<'a>(values: impl IntoIterator<Item = &'a [u8]>, token: &[u8]) -> bool {
    values.into_iter().any(|v| {
        v.split(|b| *b == b',')
            .map(|t| t.split(|b| *b == b'/').next().unwrap_or_default().trim_ascii())
            .any(|t| t.eq_ignore_ascii_case(token))
    })
}

/// The upgrade's own fields, as the request to the upstream and the 101 to the client carry
/// them (the client's were removed with the other hop-by-hop fields).
pub fn set_upgrade_fields(headers: &mut http::HeaderMap) {
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
}

/// Replace `resp`, an answer whose tunnel cannot open, with the refusal `status` under the same
/// request id (`close`: and close the HTTP/1 connection).
#[cold]
pub(crate) fn refuse(resp: &mut http::Response<ProxyBody>, status: StatusCode, close: bool) {
    let id = resp.headers().get(crate::forward::X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    *resp = crate::pages::refusal(status, &id, false, None, close);
}

/// The mark of a request that came as an HTTP/2 extended `CONNECT` (RFC 8441) and was turned
/// into a WebSocket handshake by [`h2_handshake`]: its upgrade is kept though its version is
/// not HTTP/1.1.
#[derive(Clone, Copy, Debug)]
pub struct ExtendedConnect;

/// Turn an HTTP/2 extended `CONNECT` for a WebSocket (RFC 8441 §4) into the request the
/// upstream takes over HTTP/1.1 (RFC 6455 §4.1): `GET` with `Upgrade: websocket`,
/// `Connection: upgrade`, a fresh `Sec-WebSocket-Key` (HTTP/2 clients send none: RFC 8441 §5)
/// and `Sec-WebSocket-Version: 13` if the client sent no version. The client's own
/// `Sec-WebSocket-Protocol` and `-Extensions` go on as they came. Returns the stream's upgrade,
/// for when the answer has gone; `None` for any other request, a `CONNECT` for anything else
/// included (the service refuses those: see [`crate::service::handle`]).
pub fn h2_handshake<B>(req: &mut http::Request<B>) -> Option<OnUpgrade> {
    if req.method() != Method::CONNECT
        || !req.extensions().get::<hyper::ext::Protocol>().is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"))
    {
        return None;
    }
    let upgrade = hyper::upgrade::on(&mut *req);
    *req.method_mut() = Method::GET;
    req.extensions_mut().insert(ExtendedConnect);
    let headers = req.headers_mut();
    set_upgrade_fields(headers);
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    if let Ok(key) = HeaderValue::from_str(&key) {
        headers.insert(SEC_WEBSOCKET_KEY, key);
    }
    if !headers.contains_key(SEC_WEBSOCKET_VERSION) {
        headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
    }
    Some(upgrade)
}

/// The answer to an HTTP/2 WebSocket handshake (see [`h2_handshake`]). The upstream's 101
/// becomes a `200` without its HTTP/1.1 upgrade fields (RFC 8441 §5), and once hyper has sent
/// it, the stream is joined to the upgraded upstream connection ([`splice`], in a task of its
/// own, `watcher` its part in the listener's drain, `permit` its place in the client's
/// connection caps, both held while it is open). Any other answer goes as it is, except a
/// success that is not a switch: a `200` to an HTTP/2 `CONNECT` opens a tunnel, and there is
/// none to open, so it is a 502.
pub fn h2_answer(
    mut resp: http::Response<ProxyBody>,
    upgrade: OnUpgrade,
    proxy: Arc<Proxy>,
    mut watcher: Watcher,
    permit: ConnectionPermit,
) -> http::Response<ProxyBody> {
    let status = resp.status();
    let upstream = if status == StatusCode::SWITCHING_PROTOCOLS { Tunnel::take_from(&mut resp) } else { None };
    let Some(upstream) = upstream else {
        if status.is_success() || status.is_informational() {
            refuse(&mut resp, StatusCode::BAD_GATEWAY, false);
        }
        return resp;
    };
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    for name in [UPGRADE, CONNECTION, SEC_WEBSOCKET_ACCEPT] {
        headers.remove(name);
    }
    let limits = proxy.runtime().limits.clone();
    tokio::spawn(async move {
        let _permit = permit;
        match upgrade.await {
            Ok(stream) => {
                let client = GuardedIo::new(TokioIo::new(stream), limits.tunnel_idle_timeout, limits.write_timeout);
                splice(client, BytesMut::new(), upstream, limits.tunnel_idle_timeout, &mut watcher, &proxy.metrics).await;
            }
            Err(e) => tracing::debug!(error = %e, "HTTP/2 WebSocket stream ended before its tunnel opened"),
        }
    });
    resp
}

/// Carry bytes both ways between the client (`client`, with `client_read` already read from
/// it) and the upgraded upstream connection, until both sides have closed, either fails (the
/// client's write timeout, or `idle` passing with no byte either way, among the failures), or
/// the drain begins.
pub async fn splice<T>(mut client: T, client_read: BytesMut, upstream: Upgraded, idle: Duration, watcher: &mut Watcher, metrics: &Metrics)
where
    T: AsyncRead + AsyncWrite + IdleLimit + Unpin,
{
    client.set_idle_timeout(idle);
    metrics.websockets_opened.fetch_add(1, Ordering::Relaxed);
    // Counted closed however the tunnel ends, its task dropped included.
    struct Closed<'a>(&'a Metrics);
    impl Drop for Closed<'_> {
        fn drop(&mut self) {
            self.0.websockets_closed.fetch_add(1, Ordering::Relaxed);
        }
    }
    let _closed = Closed(metrics);
    let Upgraded { stream: mut upstream, read: upstream_read, in_flight: _in_flight } = upstream;
    let joined = async {
        // What each side sent before the other was joined to it goes first.
        if !client_read.is_empty() {
            upstream.write_all(&client_read).await?;
        }
        if !upstream_read.is_empty() {
            client.write_all(&upstream_read).await?;
        }
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await
    };
    let drained = std::future::poll_fn(|cx| if watcher.draining(cx) { std::task::Poll::Ready(()) } else { std::task::Poll::Pending });
    tokio::select! {
        carried = joined => match carried {
            Ok((up, down)) => tracing::debug!(to_upstream = up, to_client = down, "websocket tunnel closed"),
            Err(e) => tracing::debug!(error = %e, "websocket tunnel ended"),
        },
        () = drained => tracing::debug!("websocket tunnel closed by the drain"),
    }
}

#[cfg(test)]
mod tests {
    use crate::forward::{upstream_parts, Forwarding};
    use http::Version;

    /// The fields `upstream_parts` sends for a request: `upgrade`/`connection` values, if any.
    fn sent(method: &str, version: Version, fields: &[(&str, &str)]) -> (Option<String>, Option<String>) {
        sent_on(true, method, version, fields)
    }

    /// The same, on a route whose `websocket` is `websocket`.
    fn sent_on(websocket: bool, method: &str, version: Version, fields: &[(&str, &str)]) -> (Option<String>, Option<String>) {
        let mut req = http::Request::builder().method(method).uri("/chat").version(version).header("host", "app");
        for (n, v) in fields {
            req = req.header(*n, *v);
        }
        let mut parts = req.body(()).unwrap().into_parts().0;
        let ip = "127.0.0.1".parse().unwrap();
        let fwd = Forwarding { client: ip, peer: ip, peer_trusted: false, tls: false, request_id: "1", memo: None, send: Default::default(), websocket };
        upstream_parts(&mut parts, &fwd);
        let get = |n: &str| parts.headers.get(n).map(|v| v.to_str().unwrap().to_string());
        (get("upgrade"), get("connection"))
    }

    #[test]
    fn only_a_bodiless_http11_get_naming_websocket_keeps_its_upgrade() {
        let kept = (Some("websocket".to_string()), Some("upgrade".to_string()));
        let gone = (None, None);
        let ws = [("upgrade", "websocket"), ("connection", "Upgrade")];
        assert_eq!(sent("GET", Version::HTTP_11, &ws), kept);
        assert_eq!(sent("GET", Version::HTTP_11, &[("upgrade", "websocket"), ("connection", "upgrade"), ("content-length", "0")]), kept);
        // Browsers' spellings: Firefox sends "keep-alive, Upgrade"; case does not matter; a
        // version after the name.
        assert_eq!(sent("GET", Version::HTTP_11, &[("Upgrade", "WebSocket"), ("Connection", "keep-alive, Upgrade")]), kept);
        assert_eq!(sent("GET", Version::HTTP_11, &[("upgrade", "websocket/13"), ("connection", "upgrade")]), kept);

        assert_eq!(sent("POST", Version::HTTP_11, &ws), gone);
        assert_eq!(sent("GET", Version::HTTP_10, &ws), gone);
        assert_eq!(sent("GET", Version::HTTP_2, &ws), gone);
        assert_eq!(sent("GET", Version::HTTP_11, &[("upgrade", "websocket"), ("connection", "upgrade"), ("content-length", "5")]), gone);
        assert_eq!(sent("GET", Version::HTTP_11, &[("upgrade", "websocket"), ("connection", "upgrade"), ("transfer-encoding", "chunked")]), gone);
        // The smuggling classic, and halves of an upgrade.
        assert_eq!(sent("GET", Version::HTTP_11, &[("upgrade", "h2c"), ("connection", "Upgrade, HTTP2-Settings")]), gone);
        assert_eq!(sent("GET", Version::HTTP_11, &[("upgrade", "websocket")]), gone);
        assert_eq!(sent("GET", Version::HTTP_11, &[("connection", "upgrade")]), gone);
        assert_eq!(sent("GET", Version::HTTP_11, &[("upgrade", "websockets"), ("connection", "upgrade")]), gone);
        // A route that does not take WebSocket.
        assert_eq!(sent_on(false, "GET", Version::HTTP_11, &ws), gone);
    }
}
