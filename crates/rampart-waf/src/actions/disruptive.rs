//! Disruptive actions: `pass`, `deny`, `drop`, `block`, `allow[:phase|:request]`, `redirect:URL`.
//! `block` means "whatever `SecDefaultAction` of this phase says" and is resolved at load.

use crate::parser::macros::MacroText;

/// How far `allow` reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowScope {
    /// `allow`: skip every remaining rule of phases 1–4.
    All,
    /// `allow:phase`: skip the rest of the current phase.
    Phase,
    /// `allow:request`: skip the rest of the request phases (1–2).
    Request,
}

/// A disruptive action.
#[derive(Debug, Clone)]
pub enum Disruptive {
    /// Keep going.
    Pass,
    /// Stop and answer with the rule's `status` (default 403).
    Deny,
    /// Close the connection.
    Drop,
    /// Stop evaluating rules (but do not block).
    Allow(AllowScope),
    /// Answer with a redirect to the (macro-expanded) URL.
    Redirect(MacroText),
}

impl Disruptive {
    /// Parse a disruptive action by name; `None` if `name` is not one.
    /// `block` is not handled here: it is resolved against `SecDefaultAction`.
    pub fn parse(name: &str, value: Option<&str>) -> Option<Result<Disruptive, String>> {
        Some(Ok(match name {
            "pass" => Disruptive::Pass,
            "deny" => Disruptive::Deny,
            "drop" => Disruptive::Drop,
            "proxy" => Disruptive::Deny,
            "allow" => match value.map(str::to_ascii_lowercase).as_deref() {
                None | Some("") => Disruptive::Allow(AllowScope::All),
                Some("phase") => Disruptive::Allow(AllowScope::Phase),
                Some("request") => Disruptive::Allow(AllowScope::Request),
                Some(other) => return Some(Err(format!("expected `phase` or `request`, found `{other}`"))),
            },
            "redirect" => match value {
                Some(url) if !url.is_empty() => Disruptive::Redirect(MacroText::parse(url)),
                _ => return Some(Err("expected a URL".into())),
            },
            _ => return None,
        }))
    }

    /// Whether this action interrupts the transaction (in `On` mode).
    pub fn interrupts(&self) -> bool {
        matches!(self, Disruptive::Deny | Disruptive::Drop | Disruptive::Redirect(_))
    }
}
