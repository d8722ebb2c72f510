//! Log set-up: one JSON (or text) line per event on stdout; the per-request access log on
//! stdout, in its own file, or off.

use std::fs::OpenOptions;
use std::sync::Mutex;

use rampart_config::{AccessLog, Log, LogFormat, LogLevel};
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

const ACCESS: &str = "rampart::access";

fn level(l: LogLevel) -> LevelFilter {
    match l {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

/// Install the global subscriber. Later calls (a reload) keep the first set-up: log settings
/// change on restart only.
pub fn init(log: &Log) -> anyhow::Result<()> {
    let max = level(log.level);
    let json = matches!(log.format, LogFormat::Json);
    // Our crates log at the configured level; dependencies only warnings, so that a debug run
    // is not drowned in hyper's connection chatter.
    let targets = filter_fn(move |m| {
        let ours = m.target().starts_with("rampart");
        (ours && *m.level() <= max) || (!ours && *m.level() <= LevelFilter::WARN)
    });
    let access_to_stdout = matches!(log.access_log, AccessLog::Stdout);
    let main_filter = filter_fn(move |m| m.target() != ACCESS || access_to_stdout);
    let main = if json {
        tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(false).boxed()
    } else {
        tracing_subscriber::fmt::layer().with_ansi(false).boxed()
    };
    let file_layer = match &log.access_log {
        AccessLog::File(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot open access log {}: {e}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(Mutex::new(file))
                    .with_filter(filter_fn(|m| m.target() == ACCESS)),
            )
        }
        _ => None,
    };
    // The per-layer filters above are closures, which give tracing no maximum level: every
    // callsite (hyper's and h2's `trace!`s on the request path included) would be checked at
    // run time. A global level filter states the most verbose level anything here wants, so
    // callsites below it are switched off once, statically.
    let ceiling = if max > LevelFilter::WARN { max } else { LevelFilter::WARN };
    let _ = tracing_subscriber::registry()
        .with(ceiling)
        .with(main.with_filter(main_filter).with_filter(targets))
        .with(file_layer)
        .try_init();
    Ok(())
}
