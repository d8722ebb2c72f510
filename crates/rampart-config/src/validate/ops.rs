//! `[state]`, `[audit]`, `[admin]`, `[log]`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::{
    AccessLog, Admin, Audit, Log, LogFormat, LogLevel, Redis, State, StateBackend, DEFAULT_ADMIN_ADDRESS, DEFAULT_AUDIT_SEGMENT_SIZE,
};
use crate::raw::{RawAdmin, RawAudit, RawLog, RawState};

use super::values::{choice, duration, flag, io_reason, readable_file, required_duration, required_size, size, socket_addr};

/// `[state]`: `redis` backend needs `[state.redis]` with a redis URL; redis settings with the
/// memory backend are reported (they would silently do nothing).
pub(crate) fn state(ctx: &mut Ctx<'_>, raw: Option<&RawState>) -> State {
    let d = State::default();
    let Some(raw) = raw else { return d };
    let memory_ceiling = size(ctx, "memory_ceiling", &raw.memory_ceiling, d.memory_ceiling);
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Memory,
        Redis,
    }
    let kind = choice(ctx, "backend", &raw.backend, &[("memory", Kind::Memory), ("redis", Kind::Redis)], Kind::Memory);
    let backend = match (kind, &raw.redis) {
        (Kind::Memory, None) => StateBackend::Memory,
        (Kind::Memory, Some(r)) => {
            ctx.error(Some(&r.url.span()), ErrorKind::Inconsistent, "`redis` is set but `backend` is \"memory\": set backend = \"redis\" or remove `redis`");
            StateBackend::Memory
        }
        (Kind::Redis, None) => {
            let at = raw.backend.as_ref().map(|b| b.span());
            ctx.error(at.as_ref(), ErrorKind::MissingKey, "`backend = \"redis\"` needs `redis = { url = \"redis://127.0.0.1:6379\" }`");
            StateBackend::Memory
        }
        (Kind::Redis, Some(r)) => {
            let url = r.url.get_ref().trim().to_string();
            let ok = ["redis://", "rediss://", "unix://"].iter().any(|p| url.starts_with(p) && url.len() > p.len());
            if !ok {
                ctx.invalid(&r.url.span(), format!("`url`: expected a URL such as \"redis://127.0.0.1:6379\" (or rediss://, unix://), found \"{url}\""));
            }
            StateBackend::Redis(Redis {
                url,
                sync_interval: duration(ctx, "sync_interval", &r.sync_interval, Duration::from_millis(100)),
                key_prefix: r.key_prefix.as_ref().map(|p| p.get_ref().clone()).unwrap_or_else(|| "rampart:".into()),
            })
        }
    };
    State { backend, memory_ceiling }
}

/// `[audit]`: the signing key is readable; `dir` is not a file; checkpoints at most a minute apart;
/// segments from 64 KiB to 1 GiB; retention by size keeps at least two segments.
pub(crate) fn audit(ctx: &mut Ctx<'_>, raw: Option<&RawAudit>) -> Option<Audit> {
    let raw = raw?;
    let dir = ctx.resolve(raw.dir.get_ref());
    if raw.dir.get_ref().trim().is_empty() {
        ctx.invalid(&raw.dir.span(), "`dir`: expected a directory such as \"/var/lib/rampart/audit\"");
    } else if dir.exists() && !dir.is_dir() {
        ctx.error(Some(&raw.dir.span()), ErrorKind::File, format!("`dir`: \"{}\" is a file, not a directory", dir.display()));
    }
    let signing_key = readable_file(ctx, "signing_key", &raw.signing_key);
    let checkpoint_interval = duration(ctx, "checkpoint_interval", &raw.checkpoint_interval, Duration::from_secs(1));
    if checkpoint_interval > Duration::from_secs(60) {
        if let Some(v) = &raw.checkpoint_interval {
            ctx.invalid(&v.span(), "`checkpoint_interval` must be at most \"1m\": a checkpoint commits to everything before it");
        }
    }
    let segment_size = size(ctx, "segment_size", &raw.segment_size, DEFAULT_AUDIT_SEGMENT_SIZE);
    if let Some(v) = raw.segment_size.as_ref().filter(|_| !(64 << 10..=1 << 30).contains(&segment_size)) {
        ctx.invalid(&v.span(), "`segment_size` must be from \"64KiB\" to \"1GiB\"");
    }
    let retention_size = raw.retention_size.as_ref().and_then(|v| required_size(ctx, "retention_size", v));
    if let (Some(r), Some(v)) = (retention_size, &raw.retention_size) {
        if r < 2 * segment_size {
            ctx.invalid(&v.span(), format!("`retention_size` must be at least twice `segment_size` ({segment_size} bytes): retention removes whole segments"));
        }
    }
    let retention_age = raw.retention_age.as_ref().and_then(|v| required_duration(ctx, "retention_age", v));
    let egress_interval = duration(ctx, "egress_interval", &raw.egress_interval, Duration::from_secs(60));
    if let Some(v) = raw.egress_interval.as_ref().filter(|_| !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&egress_interval)) {
        ctx.invalid(&v.span(), "`egress_interval` must be from \"1s\" to \"1h\"");
    }
    Some(Audit { dir, signing_key, checkpoint_interval, segment_size, retention_size, retention_age, egress_interval })
}

/// `[admin]`: loopback unless `allow_remote = true`; the token file is readable; the address
/// is not also a listener's.
pub(crate) fn admin(ctx: &mut Ctx<'_>, raw: Option<&RawAdmin>, listeners: &[SocketAddr]) -> Option<Admin> {
    let raw = raw?;
    let default: SocketAddr = DEFAULT_ADMIN_ADDRESS.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9090)));
    let address = raw.address.as_ref().and_then(|a| socket_addr(ctx, "address", a)).unwrap_or(default);
    let allow_remote = flag(&raw.allow_remote, false);
    if let Some(a) = &raw.address {
        if !address.ip().is_loopback() && !allow_remote {
            ctx.error(
                Some(&a.span()),
                ErrorKind::Inconsistent,
                format!("admin `address` {address} is not a loopback address: the admin API would be reachable from the network; use \"127.0.0.1:9090\" or set `allow_remote = true`"),
            );
        }
        if address.port() != 0 && listeners.contains(&address) {
            ctx.error(Some(&a.span()), ErrorKind::Duplicate, format!("admin `address` {address} is also a [[listener]] address"));
        }
    }
    let token_file = readable_file(ctx, "token_file", &raw.token_file);
    Some(Admin { address, allow_remote, token_file })
}

/// `[log]`: level and format are known words; an access log file's directory exists.
pub(crate) fn log(ctx: &mut Ctx<'_>, raw: Option<&RawLog>) -> Log {
    let d = Log::default();
    let Some(raw) = raw else { return d };
    let level = choice(
        ctx,
        "level",
        &raw.level,
        &[("error", LogLevel::Error), ("warn", LogLevel::Warn), ("info", LogLevel::Info), ("debug", LogLevel::Debug), ("trace", LogLevel::Trace)],
        LogLevel::Info,
    );
    let format = choice(ctx, "format", &raw.format, &[("json", LogFormat::Json), ("text", LogFormat::Text)], LogFormat::Json);
    let access_log = match &raw.access_log {
        None => AccessLog::Stdout,
        Some(v) => match v.get_ref().as_str() {
            "stdout" => AccessLog::Stdout,
            "off" => AccessLog::Off,
            "" => {
                ctx.invalid(&v.span(), "`access_log`: expected \"stdout\", \"off\" or a file path");
                AccessLog::Stdout
            }
            p => {
                let path = ctx.resolve(p);
                let dir = path.parent().map(|d| d.to_path_buf()).unwrap_or_else(|| ctx.base_dir().to_path_buf());
                match std::fs::metadata(&dir) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => ctx.error(Some(&v.span()), ErrorKind::File, format!("`access_log`: \"{}\" is not a directory", dir.display())),
                    Err(e) => ctx.error(Some(&v.span()), ErrorKind::File, format!("`access_log`: directory \"{}\": {}", dir.display(), io_reason(&e))),
                }
                AccessLog::File(path)
            }
        },
    };
    Log { level, format, access_log }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::{AccessLog, LogFormat, LogLevel, State, StateBackend};
    use crate::testing::{errs, ok};

    #[test]
    fn state() {
        assert_eq!(ok("").state, State::default());
        let c = ok("[state]\nbackend = \"redis\"\nmemory_ceiling = \"1GiB\"\nredis = { url = \"rediss://cache:6380\" }\n");
        assert_eq!(c.state.memory_ceiling, 1 << 30);
        let StateBackend::Redis(r) = c.state.backend else { panic!("redis") };
        assert_eq!((r.sync_interval, r.key_prefix.as_str()), (Duration::from_millis(100), "rampart:"));
        let e = errs("[state]\nbackend = \"redis\"\n");
        assert!(e[0].contains("needs `redis = { url"), "{e:?}");
        let e = errs("[state]\nredis = { url = \"http://x\" }\n");
        assert!(e[0].contains("`redis` is set but `backend` is \"memory\""), "{e:?}");
        let e = errs("[state]\nbackend = \"redis\"\nredis = { url = \"http://x\", sync_interval = \"0ms\" }\n");
        assert!(e[0].contains("`url`: expected a URL such as \"redis://127.0.0.1:6379\""), "{e:?}");
        assert!(e[1].contains("`sync_interval` must be longer than zero"), "{e:?}");
    }

    #[test]
    fn audit() {
        let c = ok("[audit]\ndir = \"audit\"\nsigning_key = \"/dev/null\"\n");
        let a = c.audit.unwrap();
        assert_eq!(a.dir, std::path::PathBuf::from("/nonexistent/audit"));
        assert_eq!(a.checkpoint_interval, Duration::from_secs(1));
        assert_eq!((a.segment_size, a.retention_size, a.retention_age), (64 << 20, None, None));
        let c = ok("[audit]\ndir = \"audit\"\nsigning_key = \"/dev/null\"\nsegment_size = \"1MiB\"\nretention_size = \"1GiB\"\nretention_age = \"90d\"\n");
        let a = c.audit.unwrap();
        assert_eq!((a.segment_size, a.retention_size, a.retention_age), (1 << 20, Some(1 << 30), Some(Duration::from_secs(90 * 86400))));
        let e = errs("[audit]\ndir = \"audit\"\nsigning_key = \"/dev/null\"\nsegment_size = \"1KiB\"\nretention_size = \"1KiB\"\nretention_age = \"0s\"\n");
        assert!(e[0].contains("`segment_size` must be from"), "{e:?}");
        assert!(e[1].contains("`retention_size` must be at least twice"), "{e:?}");
        assert!(e[2].contains("`retention_age` must be longer than zero"), "{e:?}");
        let e = errs("[audit]\ndir = \"audit\"\nsigning_key = \"/dev/null\"\negress_interval = \"2h\"\n");
        assert!(e[0].contains("`egress_interval` must be from"), "{e:?}");
        let c = ok("[audit]\ndir = \"audit\"\nsigning_key = \"/dev/null\"\negress_interval = \"10s\"\n");
        assert_eq!(c.audit.unwrap().egress_interval, Duration::from_secs(10));
        let e = errs("[audit]\ndir = \"/dev/null\"\nsigning_key = \"audit.key\"\ncheckpoint_interval = \"5m\"\n");
        assert!(e[0].contains("is a file, not a directory"), "{e:?}");
        assert!(e[1].contains("`signing_key`: cannot read"), "{e:?}");
        assert!(e[2].contains("at most \"1m\""), "{e:?}");
    }

    #[test]
    fn admin() {
        let c = ok("[admin]\ntoken_file = \"/dev/null\"\n");
        assert_eq!(c.admin.unwrap().address.to_string(), "127.0.0.1:9090");
        let c = ok("[admin]\naddress = \"0.0.0.0:9090\"\nallow_remote = true\ntoken_file = \"/dev/null\"\n");
        assert!(c.admin.unwrap().allow_remote);
        let e = errs("[admin]\naddress = \"127.0.0.1:8080\"\ntoken_file = \"/dev/null\"\n");
        assert!(e[0].contains("is also a [[listener]] address"), "{e:?}");
        let e = errs("[admin]\naddress = \"[::]:9090\"\n");
        assert!(e[0].contains("missing key `token_file` in [admin]"), "{e:?}");
    }

    #[test]
    fn log() {
        let c = ok("[log]\nlevel = \"debug\"\nformat = \"text\"\naccess_log = \"off\"\n");
        assert_eq!((c.log.level, c.log.format, c.log.access_log), (LogLevel::Debug, LogFormat::Text, AccessLog::Off));
        let c = ok("[log]\naccess_log = \"/tmp/rampart-access.log\"\n");
        assert_eq!(c.log.access_log, AccessLog::File("/tmp/rampart-access.log".into()));
        let e = errs("[log]\nlevel = \"verbose\"\nformat = \"xml\"\naccess_log = \"/nonexistent/dir/access.log\"\n");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[2].contains("directory \"/nonexistent/dir\": no such file"), "{e:?}");
    }
}
