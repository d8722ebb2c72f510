//! The fuzz targets of `fuzz/` on stable: a seeded, deterministic mutator (no new
//! dependency) drives them ~50,000 times each over the seed corpus, and 300 mutated request
//! heads go to the real binary, which must still be alive and serving afterwards.
//!
//! A failure prints the iteration and the input, so that it can be replayed (and added to
//! `fuzz/seeds/`).

mod common;

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{config_for, Backend, Rampart};

/// Tokens that matter to the parsers under test, spliced in whole.
const DICTIONARY: &[&[u8]] = &[
    b"\r\n", b"\n", b"\r", b"\0", b" ", b"\t", b":", b",", b";", b"=", b"\"", b"[", b"]", b"/", b"%00",
    b"Content-Length: ", b"Transfer-Encoding: ", b"chunked", b"identity", b"Host: ", b"X-Forwarded-For: ",
    b"Forwarded: for=", b"HTTP/1.0", b"HTTP/1.1", b"PROXY TCP4 ", b"PROXY TCP6 ", b"PROXY UNKNOWN",
    b"\r\n\r\n\0\r\nQUIT\n", b"192.0.2.1", b"2001:db8::1", b"::ffff:10.0.0.1", b"65535", b"99999999999999999999",
    b"-1", b"+5", b"0x10", b"[[listener]]", b"[limits]", b"[server]", b"[[route]]", b"[[upstream]]",
    b"= \"", b"\"1s\"", b"\"0s\"", b"\"1KiB/s\"", b"\"10/s\"", b"\"127.0.0.0/8\"", b"= 0", b"= -1", b"= 1e99",
    b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 101 ", b" 204 ", b" 304 ", b"Connection: close, ", b"0\r\n\r\n", b"ffffffff\r\n",
    b"'''", b"\"\"\"", b"\\u0000", b"*.example.org", b"/contacts",
];

/// xorshift64*: a reproducible stream of choices.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A seed, changed by one to four mutations.
    fn mutate(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut out = seeds[self.below(seeds.len())].clone();
        for _ in 0..1 + self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(8) {
                0 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] ^= 1 << self.below(8);
                }
                1 => out.insert(at, self.next() as u8),
                2 => {
                    let token = DICTIONARY[self.below(DICTIONARY.len())];
                    out.splice(at..at, token.iter().copied());
                }
                3 if at < out.len() => {
                    let end = (at + 1 + self.below(16)).min(out.len());
                    out.drain(at..end);
                }
                4 if at < out.len() => {
                    let end = (at + 1 + self.below(32)).min(out.len());
                    let copy = out[at..end].to_vec();
                    let to = self.below(out.len() + 1);
                    out.splice(to..to, copy);
                }
                5 => out.truncate(at),
                6 => {
                    let other = &seeds[self.below(seeds.len())];
                    let from = self.below(other.len() + 1);
                    out.splice(at..at, other[from..].iter().take(64).copied());
                }
                _ => {
                    // Overwrite a run with one byte: long digits, long names, spaces.
                    let b = [b'9', b'a', b' ', b'\xff', b'-'][self.below(5)];
                    let n = 1 + self.below(64);
                    out.splice(at..at, vec![b; n]);
                }
            }
        }
        out
    }
}

fn read_dir(dir: &Path, ext: Option<&str>) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| match ext {
            Some(x) => p.extension().is_some_and(|e| e == x),
            None => true,
        })
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).expect("seed")).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Run `target` on `iterations` mutated inputs (and on each seed first); on a panic, name the
/// input and fail.
fn drive(name: &str, seeds: &[Vec<u8>], iterations: usize, seed: u64, target: fn(&[u8])) {
    let started = Instant::now();
    let mut m = Mutator(seed);
    let inputs = seeds.iter().cloned().chain((0..iterations).map(|_| m.mutate(seeds)));
    for (i, input) in inputs.enumerate() {
        if let Err(panic) = std::panic::catch_unwind(|| target(&input)) {
            let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{name}: input {i} panicked ({message:?}); input: {:?}", String::from_utf8_lossy(&input));
        }
    }
    println!("{name}: {} inputs in {:?}", seeds.len() + iterations, started.elapsed());
}

fn request_head_target(data: &[u8]) {
    targets::request_head(data, targets::connection_head);
    // And a forgiving splitter's heads: more than the parser lets through, for the checks.
    targets::request_head(data, targets::lenient_head);
}

#[test]
fn request_head_checks_never_panic_on_mutated_heads() {
    let seeds = read_dir(&repo("fuzz/seeds/request_head"), None);
    drive("request_head", &seeds, 50_000, 0x5EED_0001, request_head_target);
}

#[test]
fn the_upstream_client_never_panics_on_mutated_responses() {
    let seeds = read_dir(&repo("fuzz/seeds/upstream_response"), None);
    drive("upstream_response", &seeds, 50_000, 0x5EED_0005, targets::upstream_response);
}

#[test]
fn config_parse_never_panics_on_mutated_files() {
    let mut seeds = read_dir(&repo("fuzz/seeds/config"), Some("toml"));
    seeds.extend(read_dir(&repo("examples"), Some("toml")));
    drive("config", &seeds, 50_000, 0x5EED_0002, targets::config);
}

/// Send `head`, half-close, and read whatever comes back within 3 s.
fn throw(addr: SocketAddr, head: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
    let _ = s.write_all(head);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    std::str::from_utf8(out.get(9..12)?).ok()?.parse().ok()
}

/// 4 threads share `count` mutated heads; returns a histogram of what came back.
fn barrage(addr: SocketAddr, seeds: &[Vec<u8>], count: usize, seed: u64) -> std::collections::BTreeMap<Option<u16>, usize> {
    let mut m = Mutator(seed);
    let heads: Vec<Vec<u8>> = (0..count).map(|_| m.mutate(seeds)).collect();
    let threads: Vec<_> = heads
        .chunks(count.div_ceil(4))
        .map(|chunk| {
            let chunk = chunk.to_vec();
            std::thread::spawn(move || chunk.iter().map(|h| throw(addr, h)).collect::<Vec<_>>())
        })
        .collect();
    let mut histogram = std::collections::BTreeMap::new();
    for t in threads {
        for status in t.join().expect("barrage thread") {
            *histogram.entry(status).or_insert(0) += 1;
        }
    }
    histogram
}

fn assert_still_serving(rampart: &mut Rampart, preamble: &[u8]) {
    assert!(rampart.is_running(), "rampart died:\n{}", rampart.logs().join("\n"));
    let mut req = preamble.to_vec();
    req.extend_from_slice(b"GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    // Without the half-close `throw` uses: hyper (half_close off, its default) drops a request
    // whose connection reads EOF before the answer is written.
    let mut s = TcpStream::connect(rampart.addrs[0]).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(&req).expect("request");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(out.starts_with(b"HTTP/1.1 200"), "no 200 after the barrage: {:?}", String::from_utf8_lossy(&out));
    assert!(!rampart.logs().iter().any(|l| l.contains("panicked")), "a task panicked:\n{}", rampart.logs().join("\n"));
}

#[test]
fn real_binary_survives_300_mutated_request_heads() {
    let backend = Backend::start("fuzz");
    let mut rampart = Rampart::start(&config_for(&backend, "[limits]\nheader_read_timeout = \"2s\"\n"));
    let seeds: Vec<Vec<u8>> =
        read_dir(&repo("fuzz/seeds/request_head"), None).into_iter().filter(|s| !s.starts_with(b"PROXY") && !s.starts_with(b"\r\n\r\n")).collect();
    let histogram = barrage(rampart.addrs[0], &seeds, 300, 0x5EED_0003);
    println!("plain listener, status → count: {histogram:?}");
    assert_still_serving(&mut rampart, b"");
}

#[test]
fn real_binary_with_proxy_protocol_survives_150_mutated_connection_openings() {
    let backend = Backend::start("fuzz");
    let mut rampart = Rampart::start(&config_for(
        &backend,
        "[server]\nclient_address = \"proxy-protocol\"\ntrusted_proxies = [\"127.0.0.0/8\"]\n\n[limits]\nheader_read_timeout = \"2s\"\n",
    ));
    let seeds: Vec<Vec<u8>> =
        read_dir(&repo("fuzz/seeds/request_head"), None).into_iter().filter(|s| s.starts_with(b"PROXY") || s.starts_with(b"\r\n\r\n")).collect();
    let histogram = barrage(rampart.addrs[0], &seeds, 150, 0x5EED_0004);
    println!("PROXY-protocol listener, status → count: {histogram:?}");
    assert_still_serving(&mut rampart, b"PROXY TCP4 192.0.2.1 127.0.0.1 1234 80\r\n");
}
