//! `[limits]`.

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::Limits;
use crate::raw::RawLimits;

use super::values::{byte_rate, count, duration, size};

/// `[limits]`: each key falls back to its [`Limits::default`] value; sizes and counts are
/// non-zero; per-client ≤ per-prefix ≤ total connections (the defaults shrink to fit); the
/// request line fits in the head.
pub(crate) fn limits(ctx: &mut Ctx<'_>, raw: Option<&RawLimits>) -> Limits {
    let d = Limits::default();
    let Some(raw) = raw else { return d };
    // The per-client and per-prefix defaults shrink to fit a small `max_connections`: a
    // default must never be the cause of an error.
    let max_connections = count(ctx, "max_connections", &raw.max_connections, d.max_connections);
    let max_connections_per_prefix = count(
        ctx,
        "max_connections_per_prefix",
        &raw.max_connections_per_prefix,
        d.max_connections_per_prefix.min(max_connections),
    );
    let max_connections_per_client = count(
        ctx,
        "max_connections_per_client",
        &raw.max_connections_per_client,
        d.max_connections_per_client.min(max_connections_per_prefix),
    );
    let limits = Limits {
        header_read_timeout: duration(ctx, "header_read_timeout", &raw.header_read_timeout, d.header_read_timeout),
        body_min_rate: byte_rate(ctx, "body_min_rate", &raw.body_min_rate, d.body_min_rate),
        idle_timeout: duration(ctx, "idle_timeout", &raw.idle_timeout, d.idle_timeout),
        max_request_line: size(ctx, "max_request_line", &raw.max_request_line, d.max_request_line),
        max_header_bytes: size(ctx, "max_header_bytes", &raw.max_header_bytes, d.max_header_bytes),
        max_headers: count(ctx, "max_headers", &raw.max_headers, d.max_headers),
        max_body: size(ctx, "max_body", &raw.max_body, d.max_body),
        max_connections,
        max_connections_per_client,
        max_connections_per_prefix,
    };
    if limits.max_connections_per_client > limits.max_connections {
        let at = raw.max_connections_per_client.as_ref().or(raw.max_connections.as_ref()).map(|v| v.span());
        ctx.error(
            at.as_ref(),
            ErrorKind::Inconsistent,
            format!(
                "`max_connections_per_client` ({}) is larger than `max_connections` ({})",
                limits.max_connections_per_client, limits.max_connections
            ),
        );
    } else if limits.max_connections_per_client > limits.max_connections_per_prefix {
        let at = raw.max_connections_per_client.as_ref().or(raw.max_connections_per_prefix.as_ref()).map(|v| v.span());
        ctx.error(
            at.as_ref(),
            ErrorKind::Inconsistent,
            format!(
                "`max_connections_per_client` ({}) is larger than `max_connections_per_prefix` ({}), which counts a whole /24 or /64",
                limits.max_connections_per_client, limits.max_connections_per_prefix
            ),
        );
    }
    if limits.max_connections_per_prefix > limits.max_connections {
        let at = raw.max_connections_per_prefix.as_ref().or(raw.max_connections.as_ref()).map(|v| v.span());
        ctx.error(
            at.as_ref(),
            ErrorKind::Inconsistent,
            format!(
                "`max_connections_per_prefix` ({}) is larger than `max_connections` ({})",
                limits.max_connections_per_prefix, limits.max_connections
            ),
        );
    }
    if limits.max_request_line > limits.max_header_bytes {
        let at = raw.max_request_line.as_ref().or(raw.max_header_bytes.as_ref()).map(|v| v.span());
        ctx.error(
            at.as_ref(),
            ErrorKind::Inconsistent,
            format!(
                "`max_request_line` ({} bytes) is larger than `max_header_bytes` ({} bytes), which includes it",
                limits.max_request_line, limits.max_header_bytes
            ),
        );
    }
    limits
}
