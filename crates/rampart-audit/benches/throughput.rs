//! Audit log throughput (`bash bench/audit.sh`, or `cargo bench -p rampart-audit --bench
//! throughput -- [SECONDS] [RECORDS]`): acknowledged appends per second with group commit for
//! several numbers of concurrent appenders, the non-blocking submit path, and the time to
//! verify a log of RECORDS records (default 1,000,000). Prints figures; asserts none.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_audit::{verify, AuditLog, NoteSigner, Options, Record};
use serde_json::{Map, Value};

/// A record shaped like a WAF decision.
fn decision(i: u64) -> Record {
    let mut body = Map::new();
    body.insert("client".into(), Value::from("203.0.113.7"));
    body.insert("enforced".into(), Value::from(true));
    body.insert("reason".into(), Value::from("SQL injection attack detected via libinjection (942100)"));
    body.insert("request_id".into(), Value::from(format!("01JD{i:016x}")));
    body.insert("stage".into(), Value::from("waf"));
    body.insert("status".into(), Value::from(403));
    body.insert("verdict".into(), Value::from("block"));
    Record::now("decision", body)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(3);
    let records: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let root = tempfile::tempdir_in(std::env::var("AUDIT_BENCH_DIR").unwrap_or_else(|_| ".".into())).expect("temp dir");
    let key = root.path().join("audit.key");
    let signer = NoteSigner::generate("bench").unwrap();
    std::fs::write(&key, signer.to_text()).unwrap();
    println!("log directory under {}", root.path().display());

    for threads in [16usize, 64, 256, 1024] {
        let dir = root.path().join(format!("append-{threads}"));
        let log = Arc::new(AuditLog::open(Options::new(&dir, &key)).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (log, stop, done) = (Arc::clone(&log), Arc::clone(&stop), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        log.append(decision(i)).unwrap();
                        done.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        let n = done.load(Ordering::Relaxed);
        log.close().unwrap();
        println!("append  {threads:>5} threads: {:>9.0} acknowledged appends/s ({n} in {elapsed:.2} s)", n as f64 / elapsed);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // The request path: submit never waits; close waits until everything queued is on disk.
    let dir = root.path().join("submit");
    let mut options = Options::new(&dir, &key);
    options.queue = 1 << 20;
    let log = AuditLog::open(options).unwrap();
    let started = Instant::now();
    for i in 0..records {
        log.submit(decision(i));
    }
    let submitted = started.elapsed().as_secs_f64();
    log.close().unwrap();
    let durable = started.elapsed().as_secs_f64();
    println!(
        "submit  1 thread: {records} records queued in {submitted:.2} s, durable after {durable:.2} s ({:.0}/s), {} dropped",
        records as f64 / durable,
        log.dropped()
    );

    // Verify that log (every signature, every record, the tree against every checkpoint).
    let on_disk: u64 = rampart_audit::segment::list(&dir).unwrap().iter().map(|(_, p)| std::fs::metadata(p).unwrap().len()).sum();
    let started = Instant::now();
    let v = verify(&dir, &signer.verifier(), &[], false).unwrap();
    let took = started.elapsed().as_secs_f64();
    println!(
        "verify  {} records ({:.0} MiB, {} checkpoints): {took:.2} s, {:.2} s per million records",
        v.records,
        on_disk as f64 / (1 << 20) as f64,
        v.checkpoints,
        took * 1e6 / v.records as f64
    );
}
