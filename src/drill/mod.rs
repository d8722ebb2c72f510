//! `rampart drill`: rehearse an attack against your own deployment and see what it met.
//!
//! # Layout
//!
//! * [`args`]: the command line as typed.
//! * `plan` (this file): the checks that come before anything is sent — the target is parsed
//!   and resolved once, [`target::permit`] decides whether it may be drilled at all, every
//!   bound is applied — then the attack and the legitimate-user probe run side by side.
//! * [`load`]: the engine for request floods ([`flood`], [`scan`], [`stuffing`], [`inject`]);
//!   [`slow`] has its own (raw sockets); [`probe`] is the legitimate user.
//! * [`client`]: one hyper HTTP/1 connection from a chosen source address ([`sources`]).
//! * [`tally`] counts outcomes and latencies without storing requests; [`report`] prints them.
//!
//! Every drill stops by itself (duration and request budget, both capped) and keeps its memory
//! bounded: counters and histograms only.

mod args;
mod client;
mod flood;
mod inject;
mod load;
mod probe;
mod report;
mod scan;
mod slow;
mod solver;
mod sources;
mod stuffing;
mod tally;
mod target;

use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::{HeaderName, HeaderValue};

pub use args::DrillArgs;
use args::{Scenario, SourceMode};
use load::Requests;
use report::{ProbeReport, Report};
use sources::{Sources, MAX_BOUND_SOURCES, MAX_FORWARDED_SOURCES};
use tally::Tally;
use target::{Permit, Target};

/// The longest a drill may run.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 60);
/// The most requests a drill may send.
pub const MAX_REQUESTS: u64 = 10_000_000;
/// The most connections a drill may hold at once.
pub const MAX_CONNECTIONS: usize = 20_000;

/// Why a drill did not run. `Refused` and `Usage` exit with 2, before anything is sent.
enum Failure {
    Refused(String),
    Usage(String),
    Other(String),
}

/// `rampart drill`: exit 0 when the drill ran (whatever it found), 2 when it was refused or
/// wrongly asked, 1 when it could not run.
pub fn drill(args: DrillArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rampart drill: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = args.json;
    match runtime.block_on(plan_and_run(args)) {
        Ok(report) => {
            println!("{}", if json { report.json() } else { report.table() });
            ExitCode::SUCCESS
        }
        Err(Failure::Refused(why)) | Err(Failure::Usage(why)) => {
            eprintln!("rampart drill: {why}");
            ExitCode::from(2)
        }
        Err(Failure::Other(why)) => {
            eprintln!("rampart drill: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn plan_and_run(args: DrillArgs) -> Result<Report, Failure> {
    let target = checked_target(&args).await?;
    let duration = parse_duration("--duration", &args.duration)?;
    if duration > MAX_DURATION {
        return Err(Failure::Usage(format!("--duration {}: at most 10m", args.duration)));
    }
    let timeout = parse_duration("--timeout", &args.timeout)?;
    if args.requests == 0 || args.requests > MAX_REQUESTS {
        return Err(Failure::Usage(format!("--requests {}: from 1 to {MAX_REQUESTS}", args.requests)));
    }
    let scenario = args.scenario;
    let connections = args.connections.unwrap_or(match scenario {
        Scenario::Flood => 200,
        Scenario::Slow => 60,
        Scenario::Scan => 2,
        Scenario::Stuffing => 20,
        Scenario::Inject => 8,
        Scenario::Calm => 0,
    });
    if connections > MAX_CONNECTIONS || (connections == 0 && scenario != Scenario::Calm) {
        return Err(Failure::Usage(format!("--connections {connections}: from 1 to {MAX_CONNECTIONS}")));
    }
    check_open_files(connections + args.probe_users)?;
    let sources = sources(&args, &target)?;
    let probe = probe_plan(&args, &target)?;

    let deadline = Instant::now() + duration;
    let finished = Arc::new(AtomicBool::new(false));
    let probe_tally = Arc::new(Tally::traced(Instant::now()));
    let probe_thread = match probe.clone() {
        Some(p) => Some(probe_thread(p, Arc::clone(&probe_tally), Arc::clone(&finished), deadline)?),
        None => None,
    };

    let attack = Arc::new(Tally::new());
    let mut slow_summary = None;
    let mut by_kind = std::collections::BTreeMap::new();
    let started = Instant::now();
    let elapsed = match scenario {
        Scenario::Calm => {
            tokio::time::sleep(duration).await;
            started.elapsed()
        }
        Scenario::Slow => {
            let path = join(&target.base_path, args.paths.first().map(String::as_str).unwrap_or("/"));
            check_path(&path)?;
            let s = slow::Slow {
                to: target.socket_addr(),
                authority: target.authority.clone(),
                path,
                kind: args.slow_kind,
                connections,
                sources,
                interval: parse_duration("--interval", &args.interval)?,
                duration,
                timeout,
            };
            slow_summary = Some(slow::run(s).await);
            started.elapsed()
        }
        _ => {
            let (requests, per_connection, max_requests) = requests(&args, &target, sources)?;
            let load = load::Load {
                to: target.socket_addr(),
                authority: target.authority.clone(),
                sources,
                connections,
                per_connection,
                max_requests,
                duration,
                rate: args.rate.filter(|r| *r > 0),
                timeout,
            };
            let elapsed = load::run(load, Arc::clone(&requests), Arc::clone(&attack), Arc::clone(&finished)).await;
            by_kind = requests.by_kind().into_iter().map(|(k, c)| (k.to_string(), c)).collect();
            elapsed
        }
    };
    finished.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(t) = probe_thread {
        t.await.map_err(|_| Failure::Other("the probe's thread failed".into()))?;
    }
    let summary = attack.summary();
    let secs = elapsed.as_secs_f64().max(1e-9);
    Ok(Report {
        scenario: scenario.name(),
        target: args.target.clone(),
        sources: sources.describe(),
        connections,
        elapsed_s: (secs * 100.0).round() / 100.0,
        requests_per_s: (summary.requests as f64 / secs).round(),
        attack: summary,
        by_kind,
        slow: slow_summary,
        probe: probe.map(|p| ProbeReport::new(describe_probe(&args, &p), probe_tally.summary())),
    })
}

/// The probe on its own thread and runtime: its latencies are the target's, not the time its
/// tasks waited behind thousands of flood tasks for a worker of the same runtime. Resolves when
/// the probe has finished.
fn probe_thread(
    p: probe::Probe,
    tally: Arc<Tally>,
    finished: Arc<AtomicBool>,
    deadline: Instant,
) -> Result<tokio::sync::oneshot::Receiver<()>, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the probe's runtime: {e}")))?;
    let (done, wait) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("drill-probe".into())
        .spawn(move || {
            // The probe stands for users on machines of their own: the drill's attack threads
            // beside it on this one must not delay it when it wakes (a short slice, as the
            // shield's staff worker asks for; its fair share of CPU is unchanged).
            rampart_proxy::sched::prefer_low_latency();
            runtime.block_on(probe::run(p, tally, finished, deadline));
            let _ = done.send(());
        })
        .map_err(|e| Failure::Other(format!("cannot start the probe's thread: {e}")))?;
    Ok(wait)
}

/// Parse, resolve and permit the target — before any socket is opened.
async fn checked_target(args: &DrillArgs) -> Result<Target, Failure> {
    let allowed = match &args.config {
        Some(path) => rampart_config::load(path).map_err(|e| Failure::Usage(format!("configuration refused:\n{e}")))?.drill.targets,
        None => Vec::new(),
    };
    let url = target::parse_url(&args.target).map_err(Failure::Usage)?;
    let overrides = args.resolve.iter().map(|r| target::parse_resolve(r)).collect::<Result<Vec<_>, _>>().map_err(Failure::Usage)?;
    let addrs = target::resolve(&url, &overrides).await.map_err(Failure::Refused)?;
    let permit = target::permit(&url.host, &addrs, &allowed).map_err(Failure::Refused)?;
    Ok(Target {
        host: url.host,
        port: url.port,
        authority: url.authority,
        base_path: url.path,
        addrs,
        loopback: permit == Permit::Loopback,
    })
}

fn sources(args: &DrillArgs, target: &Target) -> Result<Sources, Failure> {
    let count = args.sources.unwrap_or(match args.scenario {
        Scenario::Flood | Scenario::Stuffing => 1_000,
        Scenario::Inject => 10,
        Scenario::Scan | Scenario::Slow | Scenario::Calm => 1,
    });
    if count == 0 {
        return Err(Failure::Usage("--sources must be at least 1".into()));
    }
    let mode = match args.source_mode {
        SourceMode::Auto if count == 1 => SourceMode::None,
        SourceMode::Auto if target.loopback => SourceMode::Bind,
        SourceMode::Auto => {
            return Err(Failure::Usage(format!(
                "--sources {count} against a non-loopback target needs --source-mode xff (the target must trust this machine's X-Forwarded-For) or --sources 1"
            )))
        }
        m => m,
    };
    match mode {
        SourceMode::Bind if !target.loopback => Err(Failure::Refused(
            "--source-mode bind (127.x.y.z source addresses) applies to loopback targets only".into(),
        )),
        SourceMode::Bind if count > MAX_BOUND_SOURCES => Err(Failure::Usage(format!("--sources {count}: at most {MAX_BOUND_SOURCES} bound addresses"))),
        SourceMode::Xff if count > MAX_FORWARDED_SOURCES => Err(Failure::Usage(format!("--sources {count}: at most {MAX_FORWARDED_SOURCES} forwarded addresses"))),
        SourceMode::Bind => Ok(Sources::Bound { count }),
        SourceMode::Xff => Ok(Sources::Forwarded { count }),
        SourceMode::None | SourceMode::Auto => Ok(Sources::Single),
    }
}

/// The scenario's requests, requests per connection, and request budget.
fn requests(args: &DrillArgs, target: &Target, sources: Sources) -> Result<(Arc<dyn Requests>, u64, u64), Failure> {
    let paths = |default: &str| -> Result<Vec<String>, Failure> {
        let given: Vec<&str> = if args.paths.is_empty() { vec![default] } else { args.paths.iter().map(String::as_str).collect() };
        given.iter().map(|p| join(&target.base_path, p)).map(|p| check_path(&p).map(|()| p)).collect()
    };
    let per_connection = args.requests_per_connection.max(1);
    Ok(match args.scenario {
        Scenario::Flood => (Arc::new(flood::Flood { paths: paths("/")?, cache_bust: args.cache_bust }), per_connection, args.requests),
        Scenario::Scan => (Arc::new(scan::Scan), per_connection, args.requests),
        Scenario::Inject => {
            (Arc::new(inject::Inject::new(paths("/contacts")?, args.param.clone(), &args.inject_classes)), per_connection, args.requests)
        }
        Scenario::Stuffing => {
            let login = join(&target.base_path, &args.login_path);
            check_path(&login)?;
            let attempts = args.attempts_per_source.max(1);
            let budget = args.requests.min(sources.count().saturating_mul(attempts));
            let s = stuffing::Stuffing::new(login, args.username_field.clone(), args.password_field.clone());
            (Arc::new(s), attempts, budget)
        }
        Scenario::Slow | Scenario::Calm => unreachable!("no request engine for {}", args.scenario.name()),
    })
}

fn probe_plan(args: &DrillArgs, target: &Target) -> Result<Option<probe::Probe>, Failure> {
    if args.no_probe || args.probe_users == 0 {
        return Ok(None);
    }
    let path = join(&target.base_path, &args.probe_path);
    check_path(&path)?;
    let headers = args
        .probe_header
        .iter()
        .map(|h| {
            let (n, v) = h.split_once(':').ok_or_else(|| Failure::Usage(format!("--probe-header `{h}`: expected `Name: value`")))?;
            let name = HeaderName::from_bytes(n.trim().as_bytes()).map_err(|_| Failure::Usage(format!("--probe-header `{h}`: bad header name")))?;
            let value = HeaderValue::from_str(v.trim()).map_err(|_| Failure::Usage(format!("--probe-header `{h}`: bad header value")))?;
            Ok((name, value))
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    for c in &args.probe_cookie {
        if !c.contains('=') {
            return Err(Failure::Usage(format!("--probe-cookie `{c}`: expected `name=value`")));
        }
    }
    let cookie = match args.probe_cookie.is_empty() {
        true => None,
        false => Some(HeaderValue::from_str(&args.probe_cookie.join("; ")).map_err(|_| Failure::Usage("--probe-cookie: bad cookie value".into()))?),
    };
    if let Some(net) = args.probe_source {
        check_probe_source(net.addr(), target)?;
    }
    Ok(Some(probe::Probe {
        to: target.socket_addr(),
        authority: target.authority.clone(),
        path,
        source: args.probe_source,
        headers,
        cookie,
        users: args.probe_users,
        rate: args.probe_rate.max(1),
        timeout: parse_duration("--probe-timeout", &args.probe_timeout)?,
        solve: args.probe_solve,
    }))
}

/// A loopback probe source only makes sense against a loopback target (and the other way
/// round): refused early rather than failing every probe request.
fn check_probe_source(ip: IpAddr, target: &Target) -> Result<(), Failure> {
    if target::is_loopback(ip) != target.loopback {
        return Err(Failure::Usage(format!("--probe-source {ip} cannot reach {}", target.host)));
    }
    Ok(())
}

fn describe_probe(args: &DrillArgs, p: &probe::Probe) -> String {
    let mut who = format!("{} users x {} req/s, {}", p.users, p.rate, args.probe_path);
    match p.source {
        Some(net) if net.prefix_len() == net.max_prefix_len() => who.push_str(&format!(", from {}", net.addr())),
        Some(net) => who.push_str(&format!(", from {net}, one address per user")),
        None => {}
    }
    for (n, _) in &p.headers {
        who.push_str(&format!(", header {n}"));
    }
    for c in &args.probe_cookie {
        who.push_str(&format!(", cookie {}", c.split_once('=').map(|(n, _)| n).unwrap_or(c)));
    }
    if p.solve {
        who.push_str(", solving challenges (a clearance holder)");
    }
    who
}

fn parse_duration(flag: &str, s: &str) -> Result<Duration, Failure> {
    match rampart_core::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(Failure::Usage(format!("{flag} {s}: expected a duration such as 500ms, 10s or 2m"))),
    }
}

/// `path` under the target URL's path (`http://host/app/` + `/login` = `/app/login`).
fn join(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    if path.starts_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    }
}

fn check_path(path: &str) -> Result<(), Failure> {
    match path.parse::<hyper::Uri>() {
        Ok(u) if u.scheme().is_none() && path.starts_with('/') => Ok(()),
        _ => Err(Failure::Usage(format!("`{path}` is not a request path (percent-encode spaces and the like)"))),
    }
}

/// Each connection is a file descriptor: refuse a drill this process could not open, rather
/// than report the target refusing connections it never saw.
fn check_open_files(needed: usize) -> Result<(), Failure> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse::<usize>().ok());
    match soft {
        Some(soft) if needed + 64 > soft => Err(Failure::Usage(format!(
            "{needed} connections need more open files than this process may have ({soft}); raise it with `ulimit -n`"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_under_the_target() {
        assert_eq!(join("/", "/login"), "/login");
        assert_eq!(join("/app/", "/login"), "/app/login");
        assert_eq!(join("/app", "login"), "/app/login");
        assert!(check_path("/a b").is_err());
        assert!(check_path("/contacts?q=%27").is_ok());
    }
}
