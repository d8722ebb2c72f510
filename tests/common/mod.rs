//! Shared harness for the integration tests: the real `rampart` binary on port 0, a real echo
//! backend, real sockets.
//!
//! * [`Backend`]: an upstream on `127.0.0.1:0` that answers every request with a JSON echo of
//!   what it received (method, target, headers, body length) and counts requests.
//! * [`Rampart`]: the binary started with a configuration written to a temporary directory;
//!   its bound addresses are read from its `listening` log lines; it is killed when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// An echo upstream on its own thread and runtime, so that it serves whatever the test does.
pub struct Backend {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend {
    /// Start an echo backend that says `name` in its answers (to tell servers of a pool apart).
    pub fn start(name: &'static str) -> Backend {
        Backend::start_with_delay(name, Duration::ZERO)
    }

    /// Like [`Backend::start`], answering each request after `delay`.
    pub fn start_with_delay(name: &'static str, delay: Duration) -> Backend {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind backend");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("backend addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let counter = Arc::clone(&hits);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    let (stream, _) = tokio::select! {
                        a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                        _ = &mut stopped => return,
                    };
                    let counter = Arc::clone(&counter);
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let counter = Arc::clone(&counter);
                            async move {
                                counter.fetch_add(1, Ordering::SeqCst);
                                if !delay.is_zero() {
                                    tokio::time::sleep(delay).await;
                                }
                                let (parts, body) = req.into_parts();
                                let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                                let headers: serde_json::Map<String, serde_json::Value> = parts
                                    .headers
                                    .iter()
                                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned())))
                                    .collect();
                                let echo = serde_json::json!({
                                    "server": name,
                                    "method": parts.method.as_str(),
                                    "target": parts.uri.to_string(),
                                    "headers": headers,
                                    "body_len": body.len(),
                                });
                                let resp = hyper::Response::builder()
                                    .header("content-type", "application/json")
                                    .header("x-backend", name)
                                    .body(Full::new(Bytes::from(echo.to_string())))
                                    .expect("response");
                                Ok::<_, std::convert::Infallible>(resp)
                            }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        Backend { addr, hits, stop: Some(stop), thread: Some(thread) }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The `rampart` binary, running.
pub struct Rampart {
    child: Child,
    /// Proxy listeners, in configuration order.
    pub addrs: Vec<SocketAddr>,
    pub admin: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
    lines: Arc<Mutex<Vec<String>>>,
}

/// A fresh temporary directory for files a configuration names.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

impl Rampart {
    /// The process's id (for /proc/PID/status).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Write `config` to `rampart.toml` in a new temporary directory and run it.
    pub fn start(config: &str) -> Rampart {
        Rampart::start_in(temp_dir(), config)
    }

    /// Run `config` from `dir` (which may hold list files, certificates, tokens).
    pub fn start_in(dir: tempfile::TempDir, config: &str) -> Rampart {
        let path = dir.path().join("rampart.toml");
        std::fs::write(&path, config).expect("write config");
        let listeners = config.matches("[[listener]]").count();
        let wants_admin = config.contains("[admin]");
        let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .arg("run")
            .arg("--config")
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rampart");
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")) as Box<dyn Read + Send>,
        ] {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().expect("lines").push(line);
                }
            });
        }
        let mut r = Rampart { child, addrs: Vec::new(), admin: None, dir, lines };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (addrs, admin) = r.bound_addresses();
            if addrs.len() >= listeners && (!wants_admin || admin.is_some()) {
                r.addrs = addrs;
                r.admin = admin;
                return r;
            }
            if let Ok(Some(status)) = r.child.try_wait() {
                panic!("rampart exited with {status} before listening:\n{}", r.logs().join("\n"));
            }
            if Instant::now() > deadline {
                panic!("rampart did not start listening in time:\n{}", r.logs().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn bound_addresses(&self) -> (Vec<SocketAddr>, Option<SocketAddr>) {
        let mut addrs = Vec::new();
        let mut admin = None;
        for line in self.logs() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if let Some(a) = v.get("listener").and_then(|a| a.as_str()).filter(|_| v["message"] == "listening") {
                addrs.extend(a.parse::<SocketAddr>());
            }
            if let Some(a) = v.get("admin").and_then(|a| a.as_str()) {
                admin = a.parse().ok();
            }
        }
        (addrs, admin)
    }

    /// `http://addr` of the first listener.
    pub fn base(&self) -> String {
        format!("http://{}", self.addrs[0])
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin.expect("admin listener"))
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("rampart.toml")
    }

    /// Everything the process printed so far, one entry per line.
    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Log lines parsed as JSON whose `target` is `target`.
    pub fn json_logs(&self, target: &str) -> Vec<serde_json::Value> {
        self.logs()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"] == target)
            .collect()
    }

    /// Wait until a log line satisfies `pred` (or panic after `timeout`).
    pub fn wait_for_log(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.logs().into_iter().find(|l| pred(l)) {
                return l;
            }
            if Instant::now() > deadline {
                panic!("no matching log line within {timeout:?}:\n{}", self.logs().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send a Unix signal (`"HUP"`, `"TERM"`) to the process.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success());
    }

    /// Wait for the process to exit, returning its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Rampart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal configuration: one listener on port 0 in front of `backend`, plus `extra` TOML.
pub fn config_for(backend: &Backend, extra: &str) -> String {
    config_for_addr(backend.addr, extra)
}

/// [`config_for`] in front of any server at `backend`.
pub fn config_for_addr(backend: SocketAddr, extra: &str) -> String {
    format!(
        r#"
[[listener]]
address = "127.0.0.1:0"

[[upstream]]
name = "app"
servers = ["{backend}"]

[[route]]
path = "/"
upstream = "app"

{extra}
"#
    )
}

/// Send raw bytes on a new connection and read until the peer closes or `timeout` passes.
pub fn raw_exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(timeout)).expect("timeout");
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A blocking HTTP client for tests (no proxy from the environment).
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("client")
}

/// Write `contents` to `name` inside `dir`, returning the path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).expect("write file");
    p
}

// ---------------------------------------------------------------------------------------------
// Helpers for the routing, TLS, identity, stage, reload and admin tests.

/// An address on which nothing listens: a port bound and released at once. Connecting to it is
/// refused (for a dead server in a pool).
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    addr
}

/// Poll `check` until it returns `Some`, or panic with `what` after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The admin token the tests use.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// Write the admin token file into `dir` and return an `[admin]` section on `127.0.0.2:0`.
///
/// Not `127.0.0.1:0`: the configuration checker refuses an admin address equal to a listener's
/// even when both ask for an ephemeral port (`tests/check_config.rs` holds that case).
pub fn admin_section(dir: &Path) -> String {
    write_file(dir, "admin.token", &format!("{ADMIN_TOKEN}\n"));
    "[admin]\naddress = \"127.0.0.2:0\"\ntoken_file = \"admin.token\"\n".to_string()
}

/// One HTTP/1.1 response read off a connection that stays open.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One message head, through its blank line, read a byte at a time (nothing after it is
/// taken off the socket); `None` if the connection ends or its read timeout passes first.
pub fn read_head_bytes(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(head)
}

/// Read one response (Content-Length or chunked framing) from `s`; `None` if the peer closed
/// the connection (or `timeout` passed) before a whole response head arrived.
pub fn read_response(s: &mut TcpStream, timeout: Duration) -> Option<RawResponse> {
    s.set_read_timeout(Some(timeout)).expect("read timeout");
    let buf = read_head_bytes(s)?;
    let mut byte = [0u8; 1];
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                s.read_exact(&mut byte).ok()?;
                line.push(byte[0]);
            }
            let size = usize::from_str_radix(String::from_utf8_lossy(&line).trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0u8; size + 2];
            s.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk[..size]);
            if size == 0 {
                break;
            }
        }
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body = vec![0u8; len];
        s.read_exact(&mut body).ok()?;
    }
    Some(RawResponse { status, headers, body })
}

/// A keep-alive `GET path` with extra header lines (each `Name: value`).
pub fn get_request(path: &str, extra_headers: &[&str]) -> Vec<u8> {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: rampart.test\r\n");
    for h in extra_headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// A std-only upstream that answers every request with `size` bytes (`i % 251` for byte `i`),
/// written in 64 KiB pieces, then closes. For large-response streaming tests.
pub struct BulkBackend {
    pub addr: SocketAddr,
}

impl BulkBackend {
    pub fn start(size: usize) -> BulkBackend {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind bulk backend");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match s.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let header = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n"
                    );
                    if s.write_all(header.as_bytes()).is_err() {
                        return;
                    }
                    let mut sent = 0;
                    while sent < size {
                        let n = (size - sent).min(64 * 1024);
                        let piece: Vec<u8> = (sent..sent + n).map(|i| (i % 251) as u8).collect();
                        if s.write_all(&piece).is_err() {
                            return;
                        }
                        sent += n;
                    }
                });
            }
        });
        BulkBackend { addr }
    }
}

/// The admin `/metrics` text.
pub fn metrics_text(rampart: &Rampart) -> String {
    client().get(rampart.admin_url("/metrics")).send().expect("metrics").text().expect("metrics text")
}

/// The JSON log lines of `target` once `ready` holds for them (the lines are read from the
/// process's pipes by another thread, so they may trail the responses a little); panics with
/// every line after `timeout`.
pub fn wait_json_logs(
    rampart: &Rampart,
    target: &str,
    timeout: Duration,
    ready: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let lines = rampart.json_logs(target);
        if ready(&lines) {
            return lines;
        }
        if Instant::now() > deadline {
            panic!("the `{target}` log lines never got there within {timeout:?}:\n{}", rampart.logs().join("\n"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
