//! `[incident]`.

use std::time::Duration;

use rampart_core::Rate;

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::{Incident, Tlp};
use crate::raw::{RawIncident, Str};

use super::values::{choice, duration, int_in, rate_or};

/// `[incident]`: `dir` is not a file; `calm_after` from 1 s to 1 day; `waf_threshold` above
/// zero; `top_k` from 1 to 100; text fields at most 500 characters.
pub(crate) fn incident(ctx: &mut Ctx<'_>, raw: Option<&RawIncident>) -> Option<Incident> {
    let raw = raw?;
    let dir = ctx.resolve(raw.dir.get_ref());
    if raw.dir.get_ref().trim().is_empty() {
        ctx.invalid(&raw.dir.span(), "`dir`: expected a directory such as \"/var/lib/rampart/incidents\"");
    } else if dir.exists() && !dir.is_dir() {
        ctx.error(
            Some(&raw.dir.span()),
            ErrorKind::File,
            format!("`dir`: \"{}\" is a file, not a directory", dir.display()),
        );
    }
    let calm_after = duration(ctx, "calm_after", &raw.calm_after, Duration::from_secs(60));
    if let Some(v) = raw.calm_after.as_ref().filter(|_| calm_after > Duration::from_secs(86_400)) {
        ctx.invalid(&v.span(), "`calm_after` must be at most \"1d\"");
    }
    let waf_threshold =
        rate_or(ctx, "waf_threshold", &raw.waf_threshold, Rate { count: 5, per: Duration::from_secs(1) });
    if let Some(v) = raw.waf_threshold.as_ref().filter(|_| waf_threshold.per_second() <= 0.0) {
        ctx.invalid(&v.span(), "`waf_threshold` must be above zero, such as \"5/s\"");
    }
    let top_k = raw.top_k.as_ref().and_then(|v| int_in(ctx, "top_k", v, 1, 100)).unwrap_or(10) as u32;
    let mut text = |key: &str, v: &Option<Str>| -> String {
        let Some(v) = v else { return String::new() };
        if v.get_ref().chars().count() > 500 {
            ctx.invalid(&v.span(), format!("`{key}`: at most 500 characters"));
        }
        v.get_ref().trim().to_string()
    };
    let organisation = text("organisation", &raw.organisation);
    let contact = text("contact", &raw.contact);
    let reporter = text("reporter", &raw.reporter);
    let location = text("location", &raw.location);
    let notified = match &raw.notified {
        Some(list) => list.get_ref().iter().map(|v| text("notified", &Some(v.clone()))).collect(),
        None => Vec::new(),
    };
    let tlp = choice(
        ctx,
        "tlp",
        &raw.tlp,
        &[
            ("clear", Tlp::Clear),
            ("white", Tlp::Clear),
            ("green", Tlp::Green),
            ("amber", Tlp::Amber),
            ("red", Tlp::Red),
        ],
        Tlp::Amber,
    );
    Some(Incident { dir, calm_after, waf_threshold, top_k, organisation, contact, reporter, location, tlp, notified })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::Tlp;
    use crate::testing::{errs, ok};

    #[test]
    fn defaults_and_every_error_at_once() {
        assert!(ok("").incident.is_none());
        let i = ok("[incident]\ndir = \"incidents\"\n").incident.unwrap();
        assert_eq!(i.dir, std::path::PathBuf::from("/nonexistent/incidents"));
        assert_eq!((i.calm_after, i.top_k, i.tlp), (Duration::from_secs(60), 10, Tlp::Amber));
        assert_eq!(i.waf_threshold.per_second(), 5.0);
        let i = ok("[incident]\ndir = \"/tmp/i\"\ncalm_after = \"3s\"\nwaf_threshold = \"600/m\"\ntop_k = 5\n\
                    organisation = \"Campaign HQ\"\ncontact = \"soc@example.org\"\ntlp = \"green\"\nnotified = [\"NCSC\"]\n")
            .incident
            .unwrap();
        assert_eq!((i.calm_after, i.top_k, i.tlp), (Duration::from_secs(3), 5, Tlp::Green));
        assert_eq!(i.waf_threshold.per_second(), 10.0);
        assert_eq!((i.organisation.as_str(), i.notified.len()), ("Campaign HQ", 1));
        let e =
            errs("[incident]\ndir = \"/dev/null\"\ncalm_after = \"0s\"\ntop_k = 1000\ntlp = \"purple\"\ncolour = 1\n");
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(e.iter().any(|e| e.contains("unknown key `colour`")), "{e:?}");
        assert!(e.iter().any(|e| e.contains("is a file, not a directory")), "{e:?}");
        assert!(e.iter().any(|e| e.contains("`calm_after` must be longer than zero")), "{e:?}");
        assert!(e.iter().any(|e| e.contains("`top_k`: expected a whole number from 1 to 100")), "{e:?}");
        assert!(e.iter().any(|e| e.contains("`tlp`: expected")), "{e:?}");
        let e = errs("[incident]\ncalm_after = \"5s\"\n");
        assert!(e[0].contains("missing key `dir`"), "{e:?}");
    }
}
