//! Throughput of the CRS (paranoia level 1 and 4, DetectionOnly) on a typical benign request
//! and an attack, in process. Ignored by default; run in release for a figure:
//! `cargo test --release -p rampart-waf --test crs_throughput -- --ignored --nocapture`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rampart_waf::ftw::crs;
use rampart_waf::ftw::request::RawRequest;
use rampart_waf::ftw::runner::run_request;
use rampart_waf::Builder;

fn engine(paranoia: u8) -> Arc<rampart_waf::Engine> {
    let crs_dir = crs::shared_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).join("crs");
    let setup = format!(
        "SecRuleEngine DetectionOnly\nSecRequestBodyAccess On\n\
         SecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level={paranoia}\""
    );
    let mut b = Builder::new();
    crs::load_crs(&mut b, &crs_dir, &setup, "").expect("CRS loads");
    Arc::new(b.build().expect("engine"))
}

fn request(query: &str, body: &str) -> RawRequest {
    RawRequest {
        method: "POST".into(),
        uri: format!("/contacts/search?{query}"),
        version: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), b"app.example.org".to_vec()),
            ("User-Agent".into(), b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".to_vec()),
            ("Accept".into(), b"text/html,application/xhtml+xml".to_vec()),
            ("Accept-Language".into(), b"en-GB,en;q=0.5".to_vec()),
            ("Cookie".into(), b"session=4f1c2a9b7e; theme=dark".to_vec()),
            ("Content-Type".into(), b"application/x-www-form-urlencoded".to_vec()),
            ("Content-Length".into(), body.len().to_string().into_bytes()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

#[test]
#[ignore]
fn crs_requests_per_second() {
    for paranoia in [1u8, 4] {
        let e = engine(paranoia);
        for (name, req) in [
            ("benign", request("q=smith&page=2", "name=Jane+Smith&email=jane%40example.org&notes=call+back+tuesday")),
            ("attack", request("q=1'+UNION+SELECT+password+FROM+users--", "name=<script>alert(1)</script>&x=;cat+/etc/passwd")),
        ] {
            let n = 2000;
            let start = Instant::now();
            let mut logged = 0;
            for _ in 0..n {
                logged = run_request(&e, &req, "127.0.0.1", 80).logged_ids.len();
            }
            let per = start.elapsed() / n;
            println!("crs-throughput: PL{paranoia} {name}: {per:?} per request ({:.0}/s per core), {logged} rules logged", 1.0 / per.as_secs_f64());
        }
    }
}
