//! A raw WebSocket upstream for the tunnel tests (`websocket.rs`, `websocket_h2.rs`), and the
//! shield in front of it. Included with `#[path = "common/ws_upstream.rs"] mod ws_upstream;`
//! beside `mod common;`.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{self, admin_section, config_for_addr, metrics_text, temp_dir, Rampart};

/// What the test upstream does with a request head.
#[derive(Clone, Copy, PartialEq)]
pub enum Answer {
    /// 101 to a WebSocket handshake (then a first frame, then echo); 200 to anything else.
    Upgrades,
    /// 101 to every request, whatever it asked.
    AlwaysSwitches,
}

/// A raw upstream: records every request head it reads (lowercased) and answers as `answer`
/// says. After a 101 it sends `hello-from-upstream` and echoes what comes until the proxy
/// closes its side, then closes its own.
pub struct Upstream {
    pub addr: SocketAddr,
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    pub fn start(answer: Answer) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || serve(stream, answer, &seen));
            }
        });
        Upstream { addr, heads }
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn serve(mut s: TcpStream, answer: Answer, seen: &Mutex<Vec<String>>) {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    loop {
        let Some(head) = read_head(&mut s) else { return };
        seen.lock().unwrap().push(head.clone());
        let handshake = head.contains("\r\nupgrade: websocket\r\n") && head.contains("\r\nconnection: upgrade\r\n");
        if handshake || answer == Answer::AlwaysSwitches {
            let _ = s.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nhello-from-upstream",
            );
            let mut buf = [0u8; 16 * 1024];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = s.shutdown(Shutdown::Both);
            return;
        }
        if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain").is_err() {
            return;
        }
    }
}

/// One head, lowercased; `None` if the connection ends first.
pub fn read_head(s: &mut TcpStream) -> Option<String> {
    common::read_head_bytes(s).map(|head| String::from_utf8_lossy(&head).to_ascii_lowercase())
}

pub fn shield(upstream: &Upstream, extra: &str) -> Rampart {
    let dir = temp_dir();
    let admin = admin_section(dir.path());
    Rampart::start_in(dir, &config_for_addr(upstream.addr, &format!("{admin}\n{extra}")))
}

/// Wait until `/metrics` counts every tunnel closed, `total` of them opened.
pub fn wait_tunnels_closed(rampart: &Rampart, total: u32) {
    common::eventually(Duration::from_secs(5), "the tunnels counted closed", || {
        let text = metrics_text(rampart);
        (text.contains("\nrampart_websockets_open 0\n") && text.contains(&format!("\nrampart_websockets_total {total}\n"))).then_some(())
    });
}

pub const HANDSHAKE: &[u8] = b"GET /chat HTTP/1.1\r\nHost: campaign.test\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

pub fn read_exactly(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    s.read_exact(&mut got).unwrap_or_else(|e| panic!("reading {n} bytes: {e}"));
    got
}
