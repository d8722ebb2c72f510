//! One CRS transaction, in process: a typical GET (query string, browser headers) and a form
//! POST, at paranoia 1 in blocking mode as `bench/waf.sh` runs it, plus the same POST at
//! paranoia 4. `cargo bench -p rampart-waf --bench transaction`.

use std::path::Path;
use std::sync::Arc;

use criterion::{black_box, criterion_group, Criterion};
use rampart_waf::ftw::crs;
use rampart_waf::ftw::request::RawRequest;
use rampart_waf::ftw::runner::run_request;
use rampart_waf::Builder;

fn engine(paranoia: u8) -> Arc<rampart_waf::Engine> {
    let crs_dir = crs::shared_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).join("crs");
    let setup = format!(
        "SecRuleEngine On\nSecRequestBodyAccess On\n\
         SecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level={paranoia}\""
    );
    let mut b = Builder::new();
    crs::load_crs(&mut b, &crs_dir, &setup, "").expect("the CRS in ../shared/crs loads");
    Arc::new(b.build().expect("engine"))
}

fn request(method: &str, target: &str, body: &str) -> RawRequest {
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        ("Host".into(), b"app.example.org".to_vec()),
        ("User-Agent".into(), b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".to_vec()),
        ("Accept".into(), b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8".to_vec()),
        ("Accept-Language".into(), b"en-GB,en;q=0.5".to_vec()),
        ("Accept-Encoding".into(), b"gzip, deflate, br".to_vec()),
        ("Cookie".into(), b"session=4f1c2a9b7e0d; theme=dark".to_vec()),
    ];
    if !body.is_empty() {
        headers.push(("Content-Type".into(), b"application/x-www-form-urlencoded".to_vec()));
        headers.push(("Content-Length".into(), body.len().to_string().into_bytes()));
    }
    RawRequest {
        method: method.into(),
        uri: target.into(),
        version: "HTTP/1.1".into(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn transactions(c: &mut Criterion) {
    let get = request("GET", "/contacts/search?q=smith&ward=north&page=2", "");
    let post = request(
        "POST",
        "/form",
        "username=alice%40example.org&comment=Looking+forward+to+the+canvass+on+Saturday&ward=North+Central&consent=yes",
    );
    let pl1 = engine(1);
    c.bench_function("crs_pl1_get", |b| b.iter(|| black_box(run_request(&pl1, &get, "127.0.0.1", 80))));
    c.bench_function("crs_pl1_form_post", |b| b.iter(|| black_box(run_request(&pl1, &post, "127.0.0.1", 80))));
    let pl4 = engine(4);
    c.bench_function("crs_pl4_form_post", |b| b.iter(|| black_box(run_request(&pl4, &post, "127.0.0.1", 80))));
}

/// `WAF_BENCH_ITERS=N`: run N transactions of each kind and exit, without criterion: a fixed
/// amount of work for `perf stat -e instructions:u` (a count the machine's load does not
/// disturb) or `perf record`.
fn fixed_iterations(iters: usize) {
    let get = request("GET", "/contacts/search?q=smith&ward=north&page=2", "");
    let post = request("POST", "/form", "username=alice%40example.org&comment=Looking+forward+to+the+canvass+on+Saturday&ward=North+Central&consent=yes");
    let pl1 = engine(1);
    let which = std::env::var("WAF_BENCH_KIND").unwrap_or_default();
    for _ in 0..iters {
        if which != "post" {
            black_box(run_request(&pl1, &get, "127.0.0.1", 80));
        }
        if which != "get" {
            black_box(run_request(&pl1, &post, "127.0.0.1", 80));
        }
    }
}

criterion_group!(benches, transactions);

fn main() {
    if let Some(iters) = std::env::var("WAF_BENCH_ITERS").ok().and_then(|n| n.parse().ok()) {
        fixed_iterations(iters);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
