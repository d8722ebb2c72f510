//! One HTTP/1.1 client connection from a chosen source address: `TcpSocket::bind` then
//! `connect`, hyper's client handshake over it, requests one after the other (keep-alive).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;
use tokio::task::JoinHandle;

use super::tally::{ErrorKind, Outcome, CHALLENGE_HEADER};

/// The body type of every drill request.
pub type Body = Full<Bytes>;

/// An open connection. Dropping it closes the socket.
pub struct Connection {
    sender: SendRequest<Body>,
    driver: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Open a TCP socket to `to`, from `from` (any port) when given, within `deadline`.
pub async fn tcp(to: SocketAddr, from: Option<IpAddr>, deadline: Duration) -> Result<tokio::net::TcpStream, ErrorKind> {
    let socket = if to.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.map_err(|_| ErrorKind::Connect)?;
    if let Some(ip) = from {
        socket.bind(SocketAddr::new(ip, 0)).map_err(|_| ErrorKind::Connect)?;
    }
    let stream = match tokio::time::timeout(deadline, socket.connect(to)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => return Err(ErrorKind::Connect),
        Err(_) => return Err(ErrorKind::Timeout),
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

impl Connection {
    /// Connect and complete hyper's (local, instant) HTTP/1 handshake.
    pub async fn open(to: SocketAddr, from: Option<IpAddr>, deadline: Duration) -> Result<Connection, ErrorKind> {
        let stream = tcp(to, from, deadline).await?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(|_| ErrorKind::Connect)?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender, driver })
    }

    pub(super) fn sender(&mut self) -> &mut SendRequest<Body> {
        &mut self.sender
    }

    /// Whether another request can go on this connection: false when the server closed it
    /// after its last response (`Connection: close`, or an idle close), or it is still busy
    /// after `deadline`.
    pub async fn ready(&mut self, deadline: Duration) -> bool {
        matches!(tokio::time::timeout(deadline, self.sender.ready()).await, Ok(Ok(())))
    }

    /// Send `request`, read the whole response (and throw the body away), and sort it. The
    /// deadline covers waiting for the connection, the response and its body.
    pub async fn exchange(&mut self, request: Request<Body>, deadline: Duration) -> (Outcome, Duration) {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(deadline, self.exchange_inner(request)).await {
            Ok(o) => o,
            Err(_) => Outcome::Error(ErrorKind::Timeout),
        };
        (outcome, started.elapsed())
    }

    async fn exchange_inner(&mut self, request: Request<Body>) -> Outcome {
        if self.sender.ready().await.is_err() {
            return Outcome::Error(ErrorKind::Reset);
        }
        let response = match self.sender.send_request(request).await {
            Ok(r) => r,
            Err(_) => return Outcome::Error(ErrorKind::Reset),
        };
        let outcome = Outcome::of(response.status().as_u16(), response.headers().contains_key(CHALLENGE_HEADER));
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                return Outcome::Error(ErrorKind::Reset);
            }
        }
        outcome
    }
}
