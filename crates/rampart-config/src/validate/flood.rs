//! `[flood]` and `[[login]]`.

use rampart_core::{OnError, Rate, StageMode};

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::{ChallengeDifficulty, Flood, Login, LoginDetect, LoginFailure, RateAction, Sensitivity};
use crate::raw::{RawFlood, RawLogin, RawLoginDetect};

use super::rate_limit::action;
use super::values::{choice, duration, flag, int_in, mode, name, on_error, rate_or, readable_file, required_duration, token, url_path};

/// `[flood]`: sensitivity is a known word; difficulty is `"auto"` or 1 to 32 bits.
pub(crate) fn flood(ctx: &mut Ctx<'_>, raw: Option<&RawFlood>, global: StageMode) -> Flood {
    let d = Flood { mode: global, ..Flood::default() };
    let Some(raw) = raw else { return d };
    let challenge_difficulty = match &raw.challenge_difficulty {
        None => ChallengeDifficulty::Auto,
        Some(v) => match v.get_ref() {
            toml::Value::String(s) if s == "auto" => ChallengeDifficulty::Auto,
            toml::Value::Integer(n) if (1..=32).contains(n) => ChallengeDifficulty::Bits(*n as u8),
            other => {
                ctx.invalid(&v.span(), format!("`challenge_difficulty`: expected \"auto\" or a number of bits from 1 to 32 (such as 18), found {other}"));
                ChallengeDifficulty::Auto
            }
        },
    };
    Flood {
        enabled: flag(&raw.enabled, true),
        sensitivity: choice(
            ctx,
            "sensitivity",
            &raw.sensitivity,
            &[("low", Sensitivity::Low), ("medium", Sensitivity::Medium), ("high", Sensitivity::High)],
            Sensitivity::Medium,
        ),
        challenge_difficulty,
        min_rate: rate_or(ctx, "min_rate", &raw.min_rate, d.min_rate),
        heavy_hitter_rate: rate_or(ctx, "heavy_hitter_rate", &raw.heavy_hitter_rate, d.heavy_hitter_rate),
        ban_duration: duration(ctx, "ban_duration", &raw.ban_duration, d.ban_duration),
        clearance_ttl: duration(ctx, "clearance_ttl", &raw.clearance_ttl, d.clearance_ttl),
        challenge_wait: duration(ctx, "challenge_wait", &raw.challenge_wait, d.challenge_wait),
        challenge_secret_file: raw.challenge_secret_file.as_ref().map(|f| readable_file(ctx, "challenge_secret_file", f)),
        exempt_paths: raw
            .exempt_paths
            .as_ref()
            .map(|l| l.get_ref().iter().filter_map(|p| url_path(ctx, "exempt_paths", p)).collect())
            .unwrap_or_default(),
        mode: mode(ctx, &raw.mode, global),
        on_error: on_error(ctx, &raw.on_error, OnError::Open),
    }
}

/// Failed logins allowed per user name when `per_username` is absent: 5 per 15 minutes.
pub const DEFAULT_PER_USERNAME: Rate = Rate { count: 5, per: std::time::Duration::from_secs(15 * 60) };
/// Failed logins allowed per client when `per_client` is absent: 20 per 10 minutes.
pub const DEFAULT_PER_CLIENT: Rate = Rate { count: 20, per: std::time::Duration::from_secs(10 * 60) };

/// Failed logins allowed per /24 or /64 when `per_prefix` is absent: 60 per 10 minutes.
pub const DEFAULT_PER_PREFIX: Rate = Rate { count: 60, per: std::time::Duration::from_secs(10 * 60) };
/// Failed logins allowed per clearance token when `per_clearance` is absent: 10 per 10 minutes.
pub const DEFAULT_PER_CLEARANCE: Rate = Rate { count: 10, per: std::time::Duration::from_secs(10 * 60) };

/// `[login.detect]`: a window longer than zero, thresholds of at least 2.
fn detect(ctx: &mut Ctx<'_>, raw: Option<&RawLoginDetect>) -> LoginDetect {
    let d = LoginDetect::default();
    let Some(raw) = raw else { return d };
    let mut n = |key: &str, v: &Option<crate::raw::Int>, default: u32| match v {
        Some(v) => int_in(ctx, key, v, 2, 1_000_000).map(|n| n as u32).unwrap_or(default),
        None => default,
    };
    let failures = n("failures", &raw.failures, d.failures);
    let sources = n("sources", &raw.sources, d.sources);
    let usernames_per_source = n("usernames_per_source", &raw.usernames_per_source, d.usernames_per_source);
    let sources_per_username = n("sources_per_username", &raw.sources_per_username, d.sources_per_username);
    let usernames_per_password = n("usernames_per_password", &raw.usernames_per_password, d.usernames_per_password);
    let window = match &raw.window {
        Some(w) => required_duration(ctx, "window", w).unwrap_or(d.window),
        None => d.window,
    };
    LoginDetect { window, failures, sources, usernames_per_source, sources_per_username, usernames_per_password }
}

/// `[[login]]`: a path, field names, exactly one failure signal (a compiled regex for `body`).
pub(crate) fn logins(ctx: &mut Ctx<'_>, raw: &[RawLogin], global: StageMode) -> Vec<Login> {
    let mut out = Vec::new();
    for l in raw {
        let path = url_path(ctx, "path", &l.path);
        let method = match &l.method {
            Some(m) => token(ctx, "method", "method", m.get_ref(), m).map(|m| m.to_ascii_uppercase()),
            None => Some("POST".to_string()),
        };
        let username_field = l.username_field.as_ref().and_then(|f| name(ctx, "username_field", f)).unwrap_or_else(|| "username".into());
        let password_field = l.password_field.as_ref().and_then(|f| name(ctx, "password_field", f)).unwrap_or_else(|| "password".into());
        let failure = failure(ctx, l);
        let login = Login {
            path: path.clone().unwrap_or_default(),
            method: method.unwrap_or_default(),
            username_field,
            password_field,
            failure: failure.unwrap_or(LoginFailure::Status(401)),
            per_username: rate_or(ctx, "per_username", &l.per_username, DEFAULT_PER_USERNAME),
            per_client: rate_or(ctx, "per_client", &l.per_client, DEFAULT_PER_CLIENT),
            per_prefix: rate_or(ctx, "per_prefix", &l.per_prefix, DEFAULT_PER_PREFIX),
            per_clearance: rate_or(ctx, "per_clearance", &l.per_clearance, DEFAULT_PER_CLEARANCE),
            username_key_file: l.username_key_file.as_ref().map(|f| readable_file(ctx, "username_key_file", f)),
            detect: detect(ctx, l.detect.as_ref()),
            action: action(ctx, &l.action, RateAction::Challenge),
            mode: mode(ctx, &l.mode, global),
            on_error: on_error(ctx, &l.on_error, OnError::Open),
        };
        out.push(login);
    }
    out
}

fn failure(ctx: &mut Ctx<'_>, l: &RawLogin) -> Option<LoginFailure> {
    let f = &l.failure;
    let given = [f.status.is_some(), f.redirect.is_some(), f.body.is_some()].iter().filter(|b| **b).count();
    if given != 1 {
        ctx.error(
            Some(&f.status.as_ref().map(|s| s.span()).or(f.redirect.as_ref().or(f.body.as_ref()).map(|s| s.span())).unwrap_or(l.path.span())),
            ErrorKind::InvalidValue,
            "`failure` of this [[login]]: set exactly one of `status` (such as { status = 401 }), `redirect` (such as { redirect = \"/login?failed\" }) or `body` (a regular expression)",
        );
        return None;
    }
    if let Some(s) = &f.status {
        return int_in(ctx, "status", s, 100, 599).map(|n| LoginFailure::Status(n as u16));
    }
    if let Some(r) = &f.redirect {
        if r.get_ref().trim().is_empty() {
            ctx.invalid(&r.span(), "`redirect`: expected a location such as \"/login?failed\"");
            return None;
        }
        return Some(LoginFailure::Redirect(r.get_ref().clone()));
    }
    let b = f.body.as_ref()?;
    match regex::Regex::new(b.get_ref()) {
        Ok(re) => Some(LoginFailure::Body(re)),
        Err(e) => {
            let why = e.to_string().lines().last().unwrap_or("").trim().to_string();
            ctx.invalid(&b.span(), format!("`body`: not a valid regular expression: {why}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{ChallengeDifficulty, Flood, LoginFailure, RateAction, Sensitivity};
    use crate::testing::{errs, ok};

    #[test]
    fn flood() {
        assert_eq!(ok("").flood, Flood::default());
        let c = ok("[flood]\nenabled = false\nsensitivity = \"low\"\nchallenge_difficulty = 20\n");
        assert!(!c.flood.enabled);
        assert_eq!((c.flood.sensitivity, c.flood.challenge_difficulty), (Sensitivity::Low, ChallengeDifficulty::Bits(20)));
        let e = errs("[flood]\nsensitivity = \"hihg\"\nchallenge_difficulty = 40\n");
        assert!(e[0].contains("did you mean `high`?"), "{e:?}");
        assert!(e[1].contains("expected \"auto\" or a number of bits from 1 to 32"), "{e:?}");
    }

    #[test]
    fn login() {
        let c = ok("[[login]]\npath = \"/login\"\nfailure = { body = \"(?i)invalid\" }\n[[login]]\npath = \"/api/login\"\nmethod = \"put\"\nfailure = { redirect = \"/login?failed\" }\nper_client = \"5/m\"\n");
        let l = &c.logins;
        assert!(matches!(&l[0].failure, LoginFailure::Body(re) if re.is_match("INVALID password")));
        assert_eq!((l[0].method.as_str(), l[0].username_field.as_str(), l[0].action), ("POST", "username", RateAction::Challenge));
        assert_eq!(l[0].per_username, super::DEFAULT_PER_USERNAME);
        assert_eq!(l[1].method, "PUT");
        assert_eq!(l[1].per_client.count, 5);
        assert_eq!((l[0].per_prefix, l[0].detect), (super::DEFAULT_PER_PREFIX, crate::model::LoginDetect::default()));
    }

    #[test]
    fn login_detect() {
        let c = ok("[[login]]\npath = \"/login\"\nfailure = { status = 401 }\nper_prefix = \"100/m\"\ndetect = { window = \"30s\", sources = 5, sources_per_username = 3 }\n");
        let l = &c.logins[0];
        assert_eq!((l.per_prefix.count, l.detect.window.as_secs(), l.detect.sources, l.detect.sources_per_username, l.detect.failures), (100, 30, 5, 3, 100));
        let e = errs("[[login]]\npath = \"/login\"\nfailure = { status = 401 }\nusername_key_file = \"/nonexistent/key\"\ndetect = { window = \"soon\", sources = 1, usernames = 3 }\n");
        assert!(e.iter().any(|e| e.contains("`username_key_file`: cannot read")), "{e:?}");
        assert!(e.iter().any(|e| e.contains("`sources`: expected a whole number from 2")), "{e:?}");
        assert!(e.iter().any(|e| e.contains("`window`")), "{e:?}");
        assert!(e.iter().any(|e| e.contains("unknown key `usernames` in [login.detect]")), "{e:?}");
        assert_eq!(e.len(), 4, "{e:?}");
    }

    #[test]
    fn login_mistakes() {
        let e = errs("[[login]]\npath = \"login\"\nfailure = { status = 401, body = \"x\" }\n[[login]]\npath = \"/l\"\nfailure = { body = \"(unclosed\" }\n[[login]]\npath = \"/m\"\nfailure = { status = 42 }\n[[login]]\npath = \"/n\"\n");
        assert!(e[0].contains("expected a path starting with `/`"), "{e:?}");
        assert!(e[1].contains("set exactly one of `status`"), "{e:?}");
        assert!(e[2].contains("not a valid regular expression"), "{e:?}");
        assert!(e[3].contains("`status`: expected a whole number from 100 to 599"), "{e:?}");
        assert!(e[4].contains("missing key `failure` in [[login]]"), "{e:?}");
        assert_eq!(e.len(), 5, "{e:?}");
    }
}
