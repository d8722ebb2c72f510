//! Hostile request bodies (mutated multipart, JSON, XML and URL-encoded bodies, deep nesting,
//! huge argument counts) go through the body processors without a panic, and end as
//! `REQBODY_ERROR` or a clean limit, with memory bounded by the configured limits.

use std::sync::Arc;

use rampart_waf::operator::{Operator, OperatorContext, OperatorError};
use rampart_waf::{Builder, Engine};

/// `@streq` stand-in, so this test does not depend on the operator set.
#[derive(Debug)]
struct Eq(String);

impl Operator for Eq {
    fn evaluate(&self, ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        let param = ctx.expand(&self.0);
        if ctx.capturing() {
            ctx.set_capture(0, input);
        }
        param == "*" || param.as_bytes() == input
    }
}

fn eq(param: &str, _: Option<&std::path::Path>) -> Result<Box<dyn Operator>, OperatorError> {
    Ok(Box::new(Eq(param.to_string())))
}

fn engine() -> Arc<Engine> {
    let mut b = Builder::new();
    b.register_operator("eq", eq);
    b.load_str(
        r#"SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 200000
SecRequestBodyNoFilesLimit 100000
SecArgumentsLimit 50
SecRule REQUEST_HEADERS:Content-Type "@eq application/json" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "@eq text/xml" "id:2,phase:1,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule ARGS|ARGS_NAMES|FILES|FILES_NAMES|XML:/*|XML://@*|MULTIPART_PART_HEADERS|REQUEST_BODY "@eq *" "id:10,phase:2,pass,capture,setvar:'tx.seen_%{MATCHED_VAR_NAME}=%{tx.0}'"
SecRule REQBODY_ERROR "@eq 1" "id:20,phase:2,pass,log"
SecRule MULTIPART_STRICT_ERROR "@eq 1" "id:21,phase:2,pass,log"
"#,
        None,
    )
    .unwrap();
    Arc::new(b.build().unwrap())
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut out = seed.to_vec();
        let edits = self.next() % 8 + 1;
        for _ in 0..edits {
            if out.is_empty() {
                out.push(b'{');
            }
            let at = (self.next() as usize) % out.len();
            match self.next() % 4 {
                0 => out[at] = (self.next() & 0xff) as u8,
                1 => {
                    out.remove(at);
                }
                2 => out.insert(at, b"\r\n-\"{[<>&;=%"[(self.next() % 12) as usize]),
                _ => {
                    let end = (at + (self.next() as usize) % 16).min(out.len());
                    let piece = out[at..end].to_vec();
                    out.splice(at..at, piece);
                }
            }
        }
        out
    }
}

fn run(engine: &Arc<Engine>, content_type: &str, body: &[u8]) {
    let mut tx = engine.transaction();
    tx.process_uri("/upload?q=1", "POST", "HTTP/1.1");
    tx.add_request_header("Content-Type", content_type);
    tx.process_request_headers();
    tx.append_request_body(body);
    tx.process_request_body();
    tx.process_logging();
}

const MULTIPART: &[u8] = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n";

#[test]
fn mutated_bodies_never_panic() {
    let e = engine();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds: [(&str, &[u8]); 4] = [
        ("multipart/form-data; boundary=b", MULTIPART),
        ("application/json", br#"{"a":{"b":[1,2,{"c":null}]},"d":"e"}"#),
        ("text/xml", br#"<?xml version="1.0"?><r a="1"><b>t&amp;x</b><![CDATA[z]]></r>"#),
        ("application/x-www-form-urlencoded", b"a=1&b=%41%zz&c&=d&e=%"),
    ];
    for _ in 0..500 {
        for (ct, seed) in seeds {
            run(&e, ct, &rng.mutate(seed));
        }
    }
}

#[test]
fn nesting_and_counts_are_bounded() {
    let e = engine();
    let deep_json = "[".repeat(200_000);
    run(&e, "application/json", deep_json.as_bytes());
    let deep_xml = "<a>".repeat(100_000);
    run(&e, "text/xml", deep_xml.as_bytes());
    let many_args: String = (0..50_000).map(|i| format!("a{i}=1&")).collect();
    run(&e, "application/x-www-form-urlencoded", many_args.as_bytes());
    let mut many_parts = Vec::new();
    for i in 0..20_000 {
        many_parts.extend_from_slice(format!("--b\r\nContent-Disposition: form-data; name=\"p{i}\"\r\n\r\nv\r\n").as_bytes());
    }
    many_parts.extend_from_slice(b"--b--\r\n");
    run(&e, "multipart/form-data; boundary=b", &many_parts);
}

#[test]
fn body_over_the_limit_is_rejected_cleanly() {
    let e = engine();
    let mut tx = e.transaction();
    tx.process_uri("/", "POST", "HTTP/1.1");
    tx.add_request_header("Content-Type", "application/octet-stream");
    tx.process_request_headers();
    let chunk = vec![b'x'; 64 * 1024];
    let mut interrupted = None;
    for _ in 0..10 {
        if let Some(i) = tx.append_request_body(&chunk) {
            interrupted = Some(i);
            break;
        }
    }
    assert_eq!(interrupted.map(|i| i.status), Some(403));
}

#[test]
fn json_errors_become_reqbody_error() {
    let e = engine();
    let mut tx = e.transaction();
    tx.process_uri("/", "POST", "HTTP/1.1");
    tx.add_request_header("Content-Type", "application/json");
    tx.process_request_headers();
    tx.append_request_body(b"{\"a\":");
    tx.process_request_body();
    assert!(tx.matched_rules().iter().any(|r| r.id == 20));
}
