//! Checks shared by every section: units, counts, choices, networks, files.
//!
//! Each helper records its own error (naming the key, saying what was expected, with an
//! example) and returns a usable value — the default, or `None` — so validation always goes
//! on to the next key.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use rampart_core::{parse_byte_rate, parse_byte_size, parse_duration, parse_rate, OnError, Rate, StageMode};

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::raw::{Bool, Int, Str, StrList};
use crate::suggest::{did_you_mean, one_of};

/// A duration (`"10s"`), or `default` when absent or wrong. Zero is refused.
pub(crate) fn duration(ctx: &mut Ctx<'_>, key: &str, v: &Option<Str>, default: Duration) -> Duration {
    v.as_ref().and_then(|v| required_duration(ctx, key, v)).unwrap_or(default)
}

/// A duration that must be there.
pub(crate) fn required_duration(ctx: &mut Ctx<'_>, key: &str, v: &Str) -> Option<Duration> {
    match parse_duration(v.get_ref()) {
        Ok(d) if d.is_zero() => {
            ctx.invalid(&v.span(), format!("`{key}` must be longer than zero, such as \"10s\""));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            ctx.invalid(&v.span(), format!("`{key}`: expected a duration such as \"250ms\", \"10s\" or \"5m\", found \"{}\"", v.get_ref()));
            None
        }
    }
}

/// A byte size (`"64KiB"`), or `default` when absent or wrong. Zero is refused.
pub(crate) fn size(ctx: &mut Ctx<'_>, key: &str, v: &Option<Str>, default: u64) -> u64 {
    v.as_ref().and_then(|v| required_size(ctx, key, v)).unwrap_or(default)
}

/// A byte size that must be there.
pub(crate) fn required_size(ctx: &mut Ctx<'_>, key: &str, v: &Str) -> Option<u64> {
    match parse_byte_size(v.get_ref()) {
        Ok(0) => {
            ctx.invalid(&v.span(), format!("`{key}` must be larger than zero, such as \"64KiB\""));
            None
        }
        Ok(n) => Some(n),
        Err(_) => {
            ctx.invalid(&v.span(), format!("`{key}`: expected a size such as \"64KiB\" or \"10MiB\", found \"{}\"", v.get_ref()));
            None
        }
    }
}

/// A byte rate (`"1KiB/s"`) in bytes per second, or `default`.
pub(crate) fn byte_rate(ctx: &mut Ctx<'_>, key: &str, v: &Option<Str>, default: u64) -> u64 {
    let Some(v) = v else { return default };
    match parse_byte_rate(v.get_ref()) {
        Ok(n) if n > 0 => n,
        _ => {
            ctx.invalid(&v.span(), format!("`{key}`: expected a byte rate such as \"1KiB/s\", found \"{}\"", v.get_ref()));
            default
        }
    }
}

/// An event rate (`"20/s"`).
pub(crate) fn rate(ctx: &mut Ctx<'_>, key: &str, v: &Str) -> Option<Rate> {
    match parse_rate(v.get_ref()) {
        Ok(r) => Some(r),
        Err(_) => {
            ctx.invalid(&v.span(), format!("`{key}`: expected a rate such as \"20/s\", \"600/m\" or \"1000/h\", found \"{}\"", v.get_ref()));
            None
        }
    }
}

/// An optional event rate, or `default`.
pub(crate) fn rate_or(ctx: &mut Ctx<'_>, key: &str, v: &Option<Str>, default: Rate) -> Rate {
    v.as_ref().and_then(|v| rate(ctx, key, v)).unwrap_or(default)
}

/// A positive count that fits in 32 bits, or `default`.
pub(crate) fn count(ctx: &mut Ctx<'_>, key: &str, v: &Option<Int>, default: NonZeroU32) -> NonZeroU32 {
    v.as_ref().and_then(|v| required_count(ctx, key, v)).unwrap_or(default)
}

/// A positive count that must be there.
pub(crate) fn required_count(ctx: &mut Ctx<'_>, key: &str, v: &Int) -> Option<NonZeroU32> {
    let n = u32::try_from(*v.get_ref()).ok().and_then(NonZeroU32::new);
    if n.is_none() {
        ctx.invalid(&v.span(), format!("`{key}`: expected a whole number from 1 to {}, found {}", u32::MAX, v.get_ref()));
    }
    n
}

/// An integer in `min..=max`.
pub(crate) fn int_in(ctx: &mut Ctx<'_>, key: &str, v: &Int, min: i64, max: i64) -> Option<i64> {
    let n = *v.get_ref();
    if (min..=max).contains(&n) {
        Some(n)
    } else {
        ctx.invalid(&v.span(), format!("`{key}`: expected a whole number from {min} to {max}, found {n}"));
        None
    }
}

/// A boolean, or `default`.
pub(crate) fn flag(v: &Option<Bool>, default: bool) -> bool {
    v.as_ref().map(|b| *b.get_ref()).unwrap_or(default)
}

/// One of a fixed set of words, or `default`.
pub(crate) fn choice<T: Copy>(ctx: &mut Ctx<'_>, key: &str, v: &Option<Str>, options: &[(&str, T)], default: T) -> T {
    let Some(v) = v else { return default };
    let word = v.get_ref().as_str();
    if let Some((_, t)) = options.iter().find(|(name, _)| *name == word) {
        return *t;
    }
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    ctx.invalid(
        &v.span(),
        format!("`{key}`: expected {}, found \"{word}\"{}", one_of(&names), did_you_mean(word, names.iter().copied())),
    );
    default
}

/// A stage's `mode`: its own (`enforce` by default), overridden by a top-level `detect`.
pub(crate) fn mode(ctx: &mut Ctx<'_>, v: &Option<Str>, global: StageMode) -> StageMode {
    let own = choice(ctx, "mode", v, &[("enforce", StageMode::Enforce), ("detect", StageMode::Detect)], StageMode::Enforce);
    if global == StageMode::Detect { StageMode::Detect } else { own }
}

/// A stage's `on_error`.
pub(crate) fn on_error(ctx: &mut Ctx<'_>, v: &Option<Str>, default: OnError) -> OnError {
    choice(ctx, "on_error", v, &[("open", OnError::Open), ("closed", OnError::Closed)], default)
}

/// A network (`"10.0.0.0/8"`) or a single address (`"192.0.2.7"`, made /32 or /128).
pub(crate) fn network(ctx: &mut Ctx<'_>, key: &str, v: &Str) -> Option<IpNet> {
    let s = v.get_ref().trim();
    if let Ok(net) = s.parse::<IpNet>() {
        if net.trunc() != net {
            ctx.invalid(&v.span(), format!("`{key}`: \"{s}\" has host bits set; did you mean \"{}\"?", net.trunc()));
            return None;
        }
        return Some(net);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(IpNet::from(ip));
    }
    ctx.invalid(&v.span(), format!("`{key}`: expected a network such as \"10.0.0.0/8\", \"2001:db8::/32\" or an address, found \"{s}\""));
    None
}

/// A list of networks (absent: empty).
pub(crate) fn networks(ctx: &mut Ctx<'_>, key: &str, v: &Option<StrList>) -> Vec<IpNet> {
    let Some(list) = v else { return Vec::new() };
    list.get_ref().iter().filter_map(|s| network(ctx, key, s)).collect()
}

/// A socket address (`"0.0.0.0:443"`, `"[::]:80"`).
pub(crate) fn socket_addr(ctx: &mut Ctx<'_>, key: &str, v: &Str) -> Option<SocketAddr> {
    match v.get_ref().trim().parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            ctx.invalid(&v.span(), format!("`{key}`: expected an IP address and port such as \"0.0.0.0:443\" or \"[::]:80\", found \"{}\"", v.get_ref()));
            None
        }
    }
}

/// A file that must exist and be readable now; resolved against the config's directory.
/// Its content is not checked.
pub(crate) fn readable_file(ctx: &mut Ctx<'_>, key: &str, v: &Str) -> PathBuf {
    let path = ctx.resolve(v.get_ref());
    if v.get_ref().trim().is_empty() {
        ctx.invalid(&v.span(), format!("`{key}`: expected a file path, found an empty string"));
        return path;
    }
    let problem = match std::fs::metadata(&path) {
        Err(e) => Some(io_reason(&e)),
        Ok(m) if m.is_dir() => Some("is a directory".to_string()),
        Ok(_) => std::fs::File::open(&path).err().map(|e| io_reason(&e)),
    };
    if let Some(why) = problem {
        ctx.error(Some(&v.span()), ErrorKind::File, format!("`{key}`: cannot read \"{}\": {why}", path.display()));
    }
    path
}

/// Readable files, for a list key.
pub(crate) fn readable_files(ctx: &mut Ctx<'_>, key: &str, v: &Option<StrList>) -> Vec<PathBuf> {
    let Some(list) = v else { return Vec::new() };
    list.get_ref().iter().map(|s| readable_file(ctx, key, s)).collect()
}

pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// A non-empty string without surrounding blanks.
pub(crate) fn name(ctx: &mut Ctx<'_>, key: &str, v: &Str) -> Option<String> {
    let s = v.get_ref();
    if s.trim().is_empty() || s.trim() != s {
        ctx.invalid(&v.span(), format!("`{key}`: expected a non-empty name without surrounding spaces, found \"{s}\""));
        return None;
    }
    Some(s.clone())
}

/// An HTTP header or cookie name (RFC 9110 token).
pub(crate) fn token(ctx: &mut Ctx<'_>, key: &str, what: &str, s: &str, v: &Str) -> Option<String> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !ok {
        ctx.invalid(&v.span(), format!("`{key}`: \"{s}\" is not a valid {what} name (letters, digits and `-_.!#$%&'*+^`|~` only)"));
        return None;
    }
    Some(s.to_string())
}

/// A URL path: starts with `/`, no spaces, no `?`.
pub(crate) fn url_path(ctx: &mut Ctx<'_>, key: &str, v: &Str) -> Option<String> {
    let s = v.get_ref();
    if !s.starts_with('/') || s.contains(char::is_whitespace) || s.contains('?') || s.contains('#') {
        ctx.invalid(&v.span(), format!("`{key}`: expected a path starting with `/` such as \"/api\", found \"{s}\""));
        return None;
    }
    Some(s.clone())
}
