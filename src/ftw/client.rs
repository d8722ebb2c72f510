//! Sending a test's request as raw bytes and reading the response, as go-ftw does: the bytes go
//! out exactly as built (malformed on purpose, sometimes), so no HTTP client library may
//! "fix" them on the way.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// What came back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    /// The `x-request-id` header: the proxy's id for the request, the key of its WAF log.
    pub request_id: Option<String>,
    pub body: Vec<u8>,
}

/// Connect to `addr`, send `request`, read one final response (1xx interim responses are
/// skipped). Each exchange has its own connection: loopback connects cost microseconds, and a
/// request that leaves the connection in an odd state (half a body, a second request glued
/// on) cannot spill into the next test.
pub fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> io::Result<RawResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(request)?;
    let head_request = request.starts_with(b"HEAD ");
    let mut reader = Buffered { stream, buf: Vec::new() };
    loop {
        let head = reader.read_head()?;
        let (status, headers) = parse_head(&head)?;
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let request_id = header("x-request-id").map(str::to_string);
        let no_body = head_request || status == 204 || status == 304 || (100..200).contains(&status);
        let body = if no_body {
            Vec::new()
        } else if header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked")) {
            reader.read_chunked()?
        } else if let Some(len) = header("content-length") {
            let n: usize = len.trim().parse().map_err(|_| bad(format!("bad Content-Length `{len}`")))?;
            reader.read_exact_vec(n)?
        } else {
            reader.read_to_end()?
        };
        return Ok(RawResponse { status, request_id, body });
    }
}

fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &[u8]) -> io::Result<(u16, Vec<(String, String)>)> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad(format!("bad status line `{status_line}`")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok((status, headers))
}

/// A stream with the bytes read past the current position.
struct Buffered {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Buffered {
    /// Read more; `false` at end of stream.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    fn read_head(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = self.buf[..end].to_vec();
                self.buf.drain(..end + 4);
                return Ok(head);
            }
            if !self.fill()? {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before a response"));
            }
        }
    }

    fn read_exact_vec(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside the body"));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line = self.buf[..end].to_vec();
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            if !self.fill()? {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a chunk"));
            }
        }
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let line = self.read_line()?;
            let text = String::from_utf8_lossy(&line);
            let size_text = text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16).map_err(|_| bad(format!("bad chunk size `{size_text}`")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line()?.is_empty() {}
                return Ok(out);
            }
            out.extend(self.read_exact_vec(size)?);
            self.read_line()?;
        }
    }

    fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        while self.fill()? {}
        Ok(std::mem::take(&mut self.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(response: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            s.write_all(response).unwrap();
        });
        addr
    }

    #[test]
    fn reads_chunked_and_skips_interim_responses() {
        let addr = serve_once(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Request-Id: r-1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        );
        let r = exchange(addr, b"GET / HTTP/1.1\r\n\r\n", Duration::from_secs(5)).unwrap();
        assert_eq!((r.status, r.request_id.as_deref(), r.body.as_slice()), (200, Some("r-1"), &b"abc"[..]));
    }

    #[test]
    fn reads_content_length() {
        let addr = serve_once(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\nno");
        let r = exchange(addr, b"GARBAGE\r\n\r\n", Duration::from_secs(5)).unwrap();
        assert_eq!((r.status, r.request_id, r.body.as_slice()), (400, None, &b"no"[..]));
    }
}
