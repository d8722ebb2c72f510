//! `[waf]`.

use std::path::PathBuf;

use rampart_core::{OnError, StageMode};

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::{BodyLimitAction, Waf};
use crate::raw::{RawWaf, Str};

use super::values::{choice, flag, int_in, on_error, readable_file, size};

/// `[waf]`: every rule pattern names readable files (globs match at least one), paranoia is
/// 1 to 4, limits are non-zero.
pub(crate) fn waf(ctx: &mut Ctx<'_>, raw: Option<&RawWaf>, global: StageMode) -> Option<Waf> {
    let raw = raw?;
    let mut rules = Vec::new();
    if raw.rules.get_ref().is_empty() {
        ctx.invalid(&raw.rules.span(), "`rules` is empty: list rule files such as [\"/usr/share/modsecurity-crs/rules/*.conf\"], or remove [waf]");
    }
    for pattern in raw.rules.get_ref() {
        rules.extend(expand(ctx, pattern));
    }
    let paranoia = raw.paranoia.as_ref().and_then(|p| int_in(ctx, "paranoia", p, 1, 4)).unwrap_or(1) as u8;
    let own = choice(ctx, "mode", &raw.mode, &[("block", StageMode::Enforce), ("detect", StageMode::Detect)], StageMode::Enforce);
    let mode = if global == StageMode::Detect { StageMode::Detect } else { own };
    let request_body_limit = size(ctx, "request_body_limit", &raw.request_body_limit, 13_107_200);
    let request_body_no_files_limit = size(ctx, "request_body_no_files_limit", &raw.request_body_no_files_limit, 128 * 1024);
    if request_body_no_files_limit > request_body_limit {
        if let Some(v) = &raw.request_body_no_files_limit {
            ctx.error(Some(&v.span()), ErrorKind::Inconsistent, "`request_body_no_files_limit` is larger than `request_body_limit`, which includes it");
        }
    }
    let mime_types = match &raw.response_body_mime_types {
        Some(list) => list.get_ref().iter().filter_map(|m| mime(ctx, m)).collect(),
        None => ["text/plain", "text/html", "text/xml", "application/json"].map(String::from).to_vec(),
    };
    Some(Waf {
        rules,
        paranoia,
        mode,
        request_body_limit,
        request_body_no_files_limit,
        request_body_limit_action: choice(
            ctx,
            "request_body_limit_action",
            &raw.request_body_limit_action,
            &[("reject", BodyLimitAction::Reject), ("process_partial", BodyLimitAction::ProcessPartial)],
            BodyLimitAction::Reject,
        ),
        inspect_response_body: flag(&raw.inspect_response_body, false),
        response_body_limit: size(ctx, "response_body_limit", &raw.response_body_limit, 512 * 1024),
        response_body_mime_types: mime_types,
        on_error: on_error(ctx, &raw.on_error, OnError::Closed),
    })
}

/// A file, or a glob matching at least one file (sorted, as SecLang `Include` does).
fn expand(ctx: &mut Ctx<'_>, pattern: &Str) -> Vec<PathBuf> {
    let text = pattern.get_ref();
    if !text.contains(['*', '?', '[']) {
        return vec![readable_file(ctx, "rules", pattern)];
    }
    let full = ctx.resolve(text);
    let Some(full_str) = full.to_str() else {
        ctx.invalid(&pattern.span(), "`rules`: the path is not valid UTF-8");
        return Vec::new();
    };
    match glob::glob(full_str) {
        Err(e) => {
            ctx.invalid(&pattern.span(), format!("`rules`: \"{text}\" is not a valid glob pattern: {}", e.msg));
            Vec::new()
        }
        Ok(paths) => {
            let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
            found.sort();
            if found.is_empty() {
                ctx.error(Some(&pattern.span()), ErrorKind::File, format!("`rules`: \"{}\" matches no file", full.display()));
            }
            found
        }
    }
}

fn mime(ctx: &mut Ctx<'_>, v: &Str) -> Option<String> {
    let s = v.get_ref().trim().to_ascii_lowercase();
    let ok = s.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !s.contains(char::is_whitespace));
    if !ok {
        ctx.invalid(&v.span(), format!("`response_body_mime_types`: expected a media type such as \"application/json\", found \"{}\"", v.get_ref()));
        return None;
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use rampart_core::StageMode;

    use crate::model::BodyLimitAction;
    use crate::testing::{errs, ok};

    #[test]
    fn values_and_defaults() {
        assert!(ok("").waf.is_none());
        let c = ok("[waf]\nrules = [\"/dev/null\"]\n");
        let w = c.waf.unwrap();
        assert_eq!((w.paranoia, w.mode, w.request_body_limit_action), (1, StageMode::Enforce, BodyLimitAction::Reject));
        assert_eq!(w.response_body_mime_types.len(), 4);
        let c = ok("[waf]\nrules = [\"/dev/null\"]\nparanoia = 3\nmode = \"detect\"\nrequest_body_limit = \"1MiB\"\nresponse_body_mime_types = [\"Application/JSON\"]\n");
        let w = c.waf.unwrap();
        assert_eq!((w.paranoia, w.mode, w.request_body_limit), (3, StageMode::Detect, 1 << 20));
        assert_eq!(w.response_body_mime_types, vec!["application/json".to_string()]);
    }

    #[test]
    fn mistakes() {
        let e = errs("[waf]\nrules = []\nparanoia = 0\nmode = \"enforce\"\nrequest_body_no_files_limit = \"20MiB\"\nresponse_body_mime_types = [\"json\"]\n");
        assert!(e[0].contains("`rules` is empty"), "{e:?}");
        assert!(e[1].contains("from 1 to 4, found 0"), "{e:?}");
        assert!(e[2].contains("`mode`: expected `block` or `detect`"), "{e:?}");
        assert!(e[3].contains("larger than `request_body_limit`"), "{e:?}");
        assert!(e[4].contains("expected a media type"), "{e:?}");
        assert_eq!(e.len(), 5, "{e:?}");
        let e = errs("[waf]\nrules = [\"/nonexistent/crs/*.conf\", \"/nonexistent/a[.conf\", \"setup.conf\"]\n");
        assert!(e[0].contains("matches no file"), "{e:?}");
        assert!(e[1].contains("not a valid glob pattern"), "{e:?}");
        assert!(e[2].contains("`rules`: cannot read \"/nonexistent/setup.conf\""), "{e:?}");
    }
}
