//! WebSocket upgrades: a client's `GET` asking for `Upgrade: websocket` goes through the
//! stages like any request and, when the upstream answers `101 Switching Protocols` naming
//! `websocket`, the client's connection and the upstream's are joined and carry bytes both ways
//! until either side closes.
//!
//! Only WebSocket (RFC 6455 §4), only over HTTP/1.1, only a bodiless `GET`: any other `Upgrade`
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

use bytes::BytesMut;
use http::header::{CONNECTION, UPGRADE};
use http::HeaderValue;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::drain::Watcher;
use crate::io::IdleLimit;
use crate::metrics::Metrics;

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
