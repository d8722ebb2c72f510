//! The PROXY protocol (HAProxy's, v1 text and v2 binary): a load balancer in front of us
//! prepends the real client's address to the connection.
//!
//! Only read when the socket peer is a trusted proxy; from anyone else a PROXY header is an
//! attempt to lie about the source and the connection is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
const V1_MAX: usize = 107;
const V2_MAX_BODY: usize = 512;

/// What a PROXY header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// The original client and the address it connected to.
    Proxied { source: SocketAddr, destination: SocketAddr },
    /// `UNKNOWN` (v1) or `LOCAL` (v2): a health check from the proxy itself; use the peer.
    Local,
}

/// Why a PROXY header was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyProtocolError {
    #[error("connection did not start with a PROXY protocol header")]
    Missing,
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(&'static str),
    #[error("timed out reading the PROXY protocol header")]
    Timeout,
    #[error("i/o error reading the PROXY protocol header: {0}")]
    Io(String),
}

/// Parse a header at the start of `buf`. `Ok(None)` means "need more bytes".
pub fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyProtocolError> {
    if buf.len() >= 12 && buf[..12] == V2_SIGNATURE {
        return parse_v2(buf);
    }
    if V2_SIGNATURE.starts_with(&buf[..buf.len().min(12)]) && buf.len() < 12 {
        return Ok(None);
    }
    if b"PROXY ".starts_with(&buf[..buf.len().min(6)]) {
        if buf.len() < 6 {
            return Ok(None);
        }
        return parse_v1(buf);
    }
    Err(ProxyProtocolError::Missing)
}

fn parse_v1(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyProtocolError> {
    let window = &buf[..buf.len().min(V1_MAX)];
    let Some(end) = window.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX { Err(ProxyProtocolError::Malformed("v1 line too long")) } else { Ok(None) };
    };
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| ProxyProtocolError::Malformed("v1 not ASCII"))?;
    let parts: Vec<&str> = line.split(' ').collect();
    let consumed = end + 2;
    match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Ok(Some((ProxyHeader::Local, consumed))),
        ["PROXY", proto @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let src: IpAddr = src.parse().map_err(|_| ProxyProtocolError::Malformed("v1 source address"))?;
            let dst: IpAddr = dst.parse().map_err(|_| ProxyProtocolError::Malformed("v1 destination address"))?;
            if (*proto == "TCP4") != (src.is_ipv4() && dst.is_ipv4()) {
                return Err(ProxyProtocolError::Malformed("v1 address family mismatch"));
            }
            let sport: u16 = sport.parse().map_err(|_| ProxyProtocolError::Malformed("v1 source port"))?;
            let dport: u16 = dport.parse().map_err(|_| ProxyProtocolError::Malformed("v1 destination port"))?;
            Ok(Some((
                ProxyHeader::Proxied { source: SocketAddr::new(src, sport), destination: SocketAddr::new(dst, dport) },
                consumed,
            )))
        }
        _ => Err(ProxyProtocolError::Malformed("v1 fields")),
    }
}

fn parse_v2(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyProtocolError> {
    if buf.len() < 16 {
        return Ok(None);
    }
    let version = buf[12] >> 4;
    let command = buf[12] & 0x0f;
    if version != 2 {
        return Err(ProxyProtocolError::Malformed("v2 version"));
    }
    let len = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    if len > V2_MAX_BODY {
        return Err(ProxyProtocolError::Malformed("v2 length"));
    }
    if buf.len() < 16 + len {
        return Ok(None);
    }
    let body = &buf[16..16 + len];
    let consumed = 16 + len;
    match command {
        0 => return Ok(Some((ProxyHeader::Local, consumed))),
        1 => {}
        _ => return Err(ProxyProtocolError::Malformed("v2 command")),
    }
    let header = match buf[13] >> 4 {
        // AF_INET
        1 => {
            if body.len() < 12 {
                return Err(ProxyProtocolError::Malformed("v2 inet length"));
            }
            let src = Ipv4Addr::new(body[0], body[1], body[2], body[3]);
            let dst = Ipv4Addr::new(body[4], body[5], body[6], body[7]);
            let sport = u16::from_be_bytes([body[8], body[9]]);
            let dport = u16::from_be_bytes([body[10], body[11]]);
            ProxyHeader::Proxied {
                source: SocketAddr::new(src.into(), sport),
                destination: SocketAddr::new(dst.into(), dport),
            }
        }
        // AF_INET6
        2 => {
            if body.len() < 36 {
                return Err(ProxyProtocolError::Malformed("v2 inet6 length"));
            }
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&body[..16]);
            d.copy_from_slice(&body[16..32]);
            let sport = u16::from_be_bytes([body[32], body[33]]);
            let dport = u16::from_be_bytes([body[34], body[35]]);
            ProxyHeader::Proxied {
                source: SocketAddr::new(Ipv6Addr::from(s).into(), sport),
                destination: SocketAddr::new(Ipv6Addr::from(d).into(), dport),
            }
        }
        // AF_UNSPEC or AF_UNIX: no usable address; treat like LOCAL.
        _ => ProxyHeader::Local,
    };
    Ok(Some((header, consumed)))
}

/// Read a PROXY header off the start of `stream`, consuming exactly its bytes.
///
/// Peeks first so that no byte of the HTTP stream behind it is taken.
pub async fn read_header(stream: &mut TcpStream, timeout: Duration) -> Result<ProxyHeader, ProxyProtocolError> {
    let work = async {
        let mut buf = [0u8; 16 + V2_MAX_BODY];
        loop {
            let n = stream.peek(&mut buf).await.map_err(|e| ProxyProtocolError::Io(e.to_string()))?;
            if n == 0 {
                return Err(ProxyProtocolError::Missing);
            }
            match parse(&buf[..n])? {
                Some((header, consumed)) => {
                    let mut sink = vec![0u8; consumed];
                    stream.read_exact(&mut sink).await.map_err(|e| ProxyProtocolError::Io(e.to_string()))?;
                    return Ok(header);
                }
                None if n == buf.len() => return Err(ProxyProtocolError::Malformed("header too long")),
                // Not all of the header has arrived; wait a little and peek again.
                None => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| ProxyProtocolError::Timeout)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_tcp4_and_tcp6() {
        let (h, n) = parse(b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 443\r\nGET /").unwrap().unwrap();
        assert_eq!(n, 40);
        assert_eq!(h, ProxyHeader::Proxied { source: "192.0.2.7:5555".parse().unwrap(), destination: "10.0.0.1:443".parse().unwrap() });
        let (h, _) = parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n").unwrap().unwrap();
        assert!(matches!(h, ProxyHeader::Proxied { source, .. } if source.ip() == "2001:db8::1".parse::<IpAddr>().unwrap()));
        assert_eq!(parse(b"PROXY UNKNOWN\r\n").unwrap().unwrap().0, ProxyHeader::Local);
    }

    #[test]
    fn v1_partial_and_malformed() {
        assert_eq!(parse(b"PROX").unwrap(), None);
        assert_eq!(parse(b"PROXY TCP4 192.0.2.7").unwrap(), None);
        assert!(parse(b"PROXY TCP4 192.0.2.7 10.0.0.1 99999 443\r\n").is_err());
        assert!(parse(b"PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n").is_err());
        assert_eq!(parse(b"GET / HTTP/1.1\r\n").unwrap_err(), ProxyProtocolError::Missing);
        assert!(parse(&[b'P', b'R', b'O', b'X', b'Y', b' ', b'A'].repeat(30)).is_err());
    }

    #[test]
    fn v2_inet() {
        let mut b = V2_SIGNATURE.to_vec();
        b.extend([0x21, 0x11, 0, 12, 192, 0, 2, 7, 10, 0, 0, 1, 0x15, 0xb3, 0x01, 0xbb]);
        b.extend(b"GET");
        let (h, n) = parse(&b).unwrap().unwrap();
        assert_eq!(n, 28);
        assert_eq!(h, ProxyHeader::Proxied { source: "192.0.2.7:5555".parse().unwrap(), destination: "10.0.0.1:443".parse().unwrap() });
        assert_eq!(parse(&b[..20]).unwrap(), None);
        let mut local = V2_SIGNATURE.to_vec();
        local.extend([0x20, 0x00, 0, 0]);
        assert_eq!(parse(&local).unwrap().unwrap().0, ProxyHeader::Local);
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x: u64 = 0x2545F4914F6CDD1D;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 64) as usize;
            let mut b = V2_SIGNATURE.to_vec();
            b.extend((0..len).map(|i| (x >> (i % 8 * 8)) as u8));
            let _ = parse(&b);
            let _ = parse(&b[12..]);
        }
    }
}
