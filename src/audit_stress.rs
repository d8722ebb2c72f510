//! `rampart audit stress` (hidden): many threads appending through group commit. With `--ids`
//! every acknowledged record is printed as `ID THREAD N` the moment `append` returns, which is
//! what the crash test holds the log to after a SIGKILL; without, it prints the rate (the
//! bench).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use rampart_audit::{AuditLog, Options, Record};
use serde_json::{Map, Value};

#[derive(Debug, Args)]
pub struct StressArgs {
    /// The log directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// The signing key file.
    #[arg(long)]
    pub key: PathBuf,
    /// Appending threads.
    #[arg(long, default_value_t = 64)]
    pub threads: usize,
    /// Records per thread (0: until killed).
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// Print every acknowledged record's ID.
    #[arg(long)]
    pub ids: bool,
    /// Checkpoint interval in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_ms: u64,
    /// Segment size in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub segment_bytes: u64,
}

pub fn stress(args: StressArgs) -> anyhow::Result<()> {
    let mut options = Options::new(&args.dir, &args.key);
    options.checkpoint_interval = Duration::from_millis(args.checkpoint_ms);
    options.segment_max_bytes = args.segment_bytes;
    let log = Arc::new(AuditLog::open(options)?);
    let started = Instant::now();
    let threads: Vec<_> = (0..args.threads)
        .map(|t| {
            let log = Arc::clone(&log);
            let (count, ids) = (args.count, args.ids);
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let stdout = std::io::stdout();
                let mut n = 0u64;
                while count == 0 || n < count {
                    let mut body = Map::new();
                    body.insert("thread".into(), Value::from(t));
                    body.insert("n".into(), Value::from(n));
                    body.insert("client".into(), Value::from("192.0.2.1"));
                    body.insert("reason".into(), Value::from("stress"));
                    let id = log.append(Record::now("stress", body))?;
                    if ids {
                        writeln!(stdout.lock(), "{id} {t} {n}")?;
                    }
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for t in threads {
        total += t.join().map_err(|_| anyhow::anyhow!("an appender panicked"))??;
    }
    let elapsed = started.elapsed();
    log.close()?;
    if !args.ids {
        println!(
            "{total} appends from {} threads in {:.3} s: {:.0} appends/s",
            args.threads,
            elapsed.as_secs_f64(),
            total as f64 / elapsed.as_secs_f64()
        );
    }
    Ok(())
}
