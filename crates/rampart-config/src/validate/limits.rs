//! `[limits]`.

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::Limits;
use crate::raw::RawLimits;

use super::values::{rate_or, byte_rate, count, duration, size};

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
    let idle_timeout = duration(ctx, "idle_timeout", &raw.idle_timeout, d.idle_timeout);
    let limits = Limits {
        header_read_timeout: duration(ctx, "header_read_timeout", &raw.header_read_timeout, d.header_read_timeout),
        body_min_rate: byte_rate(ctx, "body_min_rate", &raw.body_min_rate, d.body_min_rate),
        idle_timeout,
        tunnel_idle_timeout: duration(ctx, "tunnel_idle_timeout", &raw.tunnel_idle_timeout, idle_timeout),
        write_timeout: duration(ctx, "write_timeout", &raw.write_timeout, d.write_timeout),
        accept_rate: rate_or(ctx, "accept_rate", &raw.accept_rate, d.accept_rate),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::Limits;
    use crate::testing::{errs, ok};

    #[test]
    fn defaults_and_values() {
        assert_eq!(ok("").limits, Limits::default());
        let c = ok("[limits]\nheader_read_timeout = \"5s\"\nbody_min_rate = \"2KiB/s\"\nmax_body = \"10MiB\"\nmax_headers = 50\n");
        assert_eq!(c.limits.header_read_timeout, Duration::from_secs(5));
        assert_eq!(c.limits.body_min_rate, 2048);
        assert_eq!(c.limits.max_body, 10 << 20);
        assert_eq!(c.limits.max_headers.get(), 50);
    }

    #[test]
    fn a_tunnel_is_idle_as_long_as_a_connection_unless_told() {
        let c = ok("[limits]\nidle_timeout = \"20s\"\n");
        assert_eq!(c.limits.tunnel_idle_timeout, Duration::from_secs(20));
        let c = ok("[limits]\nidle_timeout = \"20s\"\ntunnel_idle_timeout = \"1h\"\n");
        assert_eq!((c.limits.idle_timeout, c.limits.tunnel_idle_timeout), (Duration::from_secs(20), Duration::from_secs(3600)));
        let e = errs("[limits]\ntunnel_idle_timeout = \"0s\"\n");
        assert!(e.len() == 1 && e[0].contains("`tunnel_idle_timeout` must be longer than zero"), "{e:?}");
    }

    #[test]
    fn small_max_connections_shrinks_the_defaults() {
        let c = ok("[limits]\nmax_connections = 20\n");
        assert_eq!(c.limits.max_connections_per_prefix.get(), 20);
        assert_eq!(c.limits.max_connections_per_client.get(), 20);
    }

    #[test]
    fn mistakes() {
        let e = errs("[limits]\nmax_body = \"0\"\nmax_headers = 0\nidle_timeout = \"soon\"\nbody_min_rate = \"fast\"\n");
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e[0].contains("`max_body` must be larger than zero"), "{e:?}");
        assert!(e[1].contains("`max_headers`: expected a whole number from 1"), "{e:?}");
        assert!(e[2].contains("expected a duration such as \"250ms\""), "{e:?}");
        assert!(e[3].contains("expected a byte rate such as \"1KiB/s\""), "{e:?}");
        let e = errs("[limits]\nmax_connections_per_client = 600\n");
        assert!(e[0].contains("larger than `max_connections_per_prefix` (512)"), "{e:?}");
        let e = errs("[limits]\nmax_request_line = \"64KiB\"\n");
        assert!(e[0].contains("larger than `max_header_bytes`"), "{e:?}");
    }
}
