//! What a sensitive request costs the request thread on the audit side (`cargo bench -p
//! rampart-audit --bench sensitive -- [COUNT]`): `AuditSink::emit` of one `Event::Access` — the
//! egress tally update, the record built, serialised and half-hashed, and the non-blocking
//! queue hand-off — timed over COUNT events (default 200,000) from one thread, against a real
//! log. Prints figures; asserts none.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rampart_audit::{AuditLog, AuditSink, NoteSigner, Options};
use rampart_core::{Access, Event, EventSink, Identity, RequestId};

fn access(i: u64) -> Event {
    Event::Access(Box::new(Access {
        at: SystemTime::now(),
        request: RequestId(Arc::from(format!("1a2b3c-{i:x}").as_str())),
        client: IpAddr::from([198, 51, 100, (i % 250) as u8]),
        identity: Identity::default(),
        method: "GET".parse().expect("a method"),
        route: Arc::from("contacts"),
        path: format!("/contacts/{}", i % 5000),
        sensitive: true,
        status: 200,
        upstream_status: Some(200),
        bytes: 1834,
        records: Some(1),
        complete: true,
        flagged: Vec::new(),
        rules: Vec::new(),
    }))
}

fn main() {
    let count: u64 =
        std::env::args().skip(1).find(|a| !a.starts_with('-')).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let root = tempfile::tempdir_in(std::env::var("AUDIT_BENCH_DIR").unwrap_or_else(|_| ".".into())).expect("temp dir");
    let key = root.path().join("audit.key");
    std::fs::write(&key, NoteSigner::generate("bench").unwrap().to_text()).unwrap();
    let log = Arc::new(AuditLog::open(Options::new(root.path().join("log"), &key)).unwrap());
    let sink = AuditSink::new(Arc::clone(&log));
    let events: Vec<Event> = (0..count).map(access).collect();
    let started = Instant::now();
    for e in events {
        sink.emit(e);
    }
    let took = started.elapsed();
    println!(
        "AuditSink::emit(Access): {count} events in {:.3} s: {:.2} us each on the request thread ({} dropped: the writer's queue was full)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / count as f64,
        log.dropped()
    );
}
