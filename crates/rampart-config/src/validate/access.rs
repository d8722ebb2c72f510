//! `[[priority]]` and `[access]`.

use rampart_core::{OnError, StageMode};

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::{Access, Priority, Verify, PUBLIC_CLASS};
use crate::raw::{RawAccess, RawPriority};

use super::values::{mode, name, networks, on_error, readable_file, readable_files, token};

/// `[[priority]]`: a class name and at least one matcher; `verify` needs a cookie or header
/// to verify, and its key file must be readable.
pub(crate) fn priorities(ctx: &mut Ctx<'_>, raw: &[RawPriority]) -> Vec<Priority> {
    let mut out = Vec::new();
    for p in raw {
        let class = name(ctx, "class", &p.class).unwrap_or_default();
        if class == PUBLIC_CLASS {
            ctx.invalid(&p.class.span(), format!("`class`: \"{PUBLIC_CLASS}\" is the class of unmatched requests; pick another name"));
        }
        let networks = networks(ctx, "networks", &p.networks);
        let cookie = p.cookie.as_ref().and_then(|c| token(ctx, "cookie", "cookie", c.get_ref(), c));
        let header = p.header.as_ref().and_then(|h| token(ctx, "header", "header", h.get_ref(), h)).map(|h| h.to_ascii_lowercase());
        let verify = p.verify.as_ref().map(|v| Verify { jwt_hs256_key_file: readable_file(ctx, "jwt_hs256_key_file", &v.jwt_hs256_key_file) });
        let has_networks = p.networks.as_ref().is_some_and(|n| !n.get_ref().is_empty());
        if !has_networks && p.cookie.is_none() && p.header.is_none() {
            ctx.error(Some(&p.class.span()), ErrorKind::MissingKey, format!("[[priority]] class `{class}` matches nothing: add `networks`, `cookie` or `header`"));
        }
        if let Some(v) = &p.verify {
            if p.cookie.is_none() && p.header.is_none() {
                ctx.error(Some(&v.jwt_hs256_key_file.span()), ErrorKind::Inconsistent, "`verify` checks a `cookie` or `header`; this [[priority]] has neither");
            }
        }
        out.push(Priority { class, networks, cookie, header, verify });
    }
    out
}

/// `[access]`: networks parse; list files exist.
pub(crate) fn access(ctx: &mut Ctx<'_>, raw: Option<&RawAccess>, global: StageMode) -> Option<Access> {
    let raw = raw?;
    Some(Access {
        deny: networks(ctx, "deny", &raw.deny),
        deny_files: readable_files(ctx, "deny_files", &raw.deny_files),
        allow: networks(ctx, "allow", &raw.allow),
        allow_files: readable_files(ctx, "allow_files", &raw.allow_files),
        mode: mode(ctx, &raw.mode, global),
        on_error: on_error(ctx, &raw.on_error, OnError::Open),
    })
}

#[cfg(test)]
mod tests {
    use rampart_core::{OnError, StageMode};

    use crate::testing::{errs, ok};

    #[test]
    fn priority() {
        let c = ok("[[priority]]\nclass = \"staff\"\nnetworks = [\"198.51.100.0/24\"]\n[[priority]]\nclass = \"staff\"\ncookie = \"session\"\nverify = { jwt_hs256_key_file = \"/dev/null\" }\n");
        assert_eq!(c.priorities.len(), 2);
        assert_eq!(c.priorities[1].cookie.as_deref(), Some("session"));
        assert!(c.priorities[1].verify.is_some());
    }

    #[test]
    fn priority_mistakes() {
        let e = errs("[[priority]]\nclass = \"public\"\nnetworks = [\"x\"]\n[[priority]]\nclass = \"staff\"\n[[priority]]\nclass = \"vip\"\nnetworks = [\"10.0.0.0/8\"]\nverify = { jwt_hs256_key_file = \"missing.key\" }\n");
        assert!(e[0].contains("\"public\" is the class of unmatched requests"), "{e:?}");
        assert!(e[1].contains("expected a network"), "{e:?}");
        assert!(e[2].contains("class `staff` matches nothing"), "{e:?}");
        assert!(e[3].contains("`jwt_hs256_key_file`: cannot read"), "{e:?}");
        assert!(e[4].contains("`verify` checks a `cookie` or `header`"), "{e:?}");
        assert_eq!(e.len(), 5, "{e:?}");
    }

    #[test]
    fn access() {
        assert!(ok("").access.is_none());
        let c = ok("[access]\ndeny = [\"192.0.2.0/24\"]\ndeny_files = [\"/dev/null\"]\nallow = [\"2001:db8::1\"]\non_error = \"closed\"\nmode = \"detect\"\n");
        let a = c.access.unwrap();
        assert_eq!(a.allow[0].to_string(), "2001:db8::1/128");
        assert_eq!((a.mode, a.on_error), (StageMode::Detect, OnError::Closed));
        let e = errs("[access]\ndeny = [\"192.0.2.0/40\"]\nallow_files = [\"nope.txt\"]\nmode = \"enforced\"\non_error = \"close\"\n");
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e[2].contains("did you mean `enforce`?"), "{e:?}");
        assert!(e[3].contains("did you mean `closed`?"), "{e:?}");
    }

    #[test]
    fn top_level_detect_overrides_stage_mode() {
        let c = crate::parse(&format!("mode = \"detect\"\n{}[access]\nmode = \"enforce\"\n", crate::testing::BASE), std::path::Path::new("r.toml")).unwrap();
        assert_eq!(c.access.unwrap().mode, StageMode::Detect);
    }
}
