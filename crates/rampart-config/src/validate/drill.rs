//! `[drill]`.

use std::net::IpAddr;

use crate::context::Ctx;
use crate::model::{Drill, DrillTarget};
use crate::raw::{RawDrill, Str};

/// `[drill]`: each target is one address or one host name — no port, no scheme, no network.
/// A network would allow a whole range at once; the point of the list is that every machine a
/// drill may flood is named on purpose.
pub(crate) fn drill(ctx: &mut Ctx<'_>, raw: Option<&RawDrill>) -> Drill {
    let Some(list) = raw.and_then(|r| r.targets.as_ref()) else { return Drill::default() };
    Drill { targets: list.get_ref().iter().filter_map(|t| target(ctx, t)).collect() }
}

fn target(ctx: &mut Ctx<'_>, v: &Str) -> Option<DrillTarget> {
    let s = v.get_ref().trim();
    let bracketed = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(s);
    if let Ok(ip) = bracketed.parse::<IpAddr>() {
        return Some(DrillTarget::Address(ip));
    }
    let why = if s.contains("://") {
        Some("a host name or address, not a URL".to_string())
    } else if s.contains('/') {
        Some("one address, not a network: name each machine a drill may send to".to_string())
    } else if s.contains(':') {
        Some("a host name or address without a port".to_string())
    } else if !is_host_name(s) {
        Some("a host name (letters, digits, `-` and `.`) or an IP address".to_string())
    } else {
        None
    };
    match why {
        Some(expected) => {
            ctx.invalid(&v.span(), format!("`targets`: expected {expected}, such as \"staging.example.org\" or \"10.0.0.5\"; found \"{s}\""));
            None
        }
        None => Some(DrillTarget::Host(s.trim_end_matches('.').to_ascii_lowercase())),
    }
}

fn is_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use crate::model::DrillTarget;
    use crate::testing::{errs, ok};

    #[test]
    fn absent_means_no_target() {
        assert!(ok("").drill.targets.is_empty());
    }

    #[test]
    fn names_and_addresses() {
        let c = ok("[drill]\ntargets = [\"Staging.Example.org.\", \"10.0.0.5\", \"[2001:db8::5]\"]\n");
        assert_eq!(
            c.drill.targets,
            vec![
                DrillTarget::Host("staging.example.org".into()),
                DrillTarget::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))),
                DrillTarget::Address(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5))),
            ]
        );
    }

    #[test]
    fn urls_networks_ports_and_junk_are_refused_with_their_line() {
        let e = errs("[drill]\ntargets = [\n  \"http://staging.example.org/\",\n  \"10.0.0.0/8\",\n  \"10.0.0.5:8080\",\n  \"bad name\",\n]\n");
        assert_eq!(e.len(), 4, "{e:#?}");
        assert!(e[0].starts_with("10:") && e[0].contains("not a URL"), "{e:#?}");
        assert!(e[1].starts_with("11:") && e[1].contains("not a network"), "{e:#?}");
        assert!(e[2].starts_with("12:") && e[2].contains("without a port"), "{e:#?}");
        assert!(e[3].starts_with("13:") && e[3].contains("host name"), "{e:#?}");
    }

    #[test]
    fn unknown_key_is_reported() {
        let e = errs("[drill]\ntarget = [\"10.0.0.5\"]\n");
        assert!(e.iter().any(|e| e.contains("target")), "{e:#?}");
    }
}
