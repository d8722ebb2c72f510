//! What a stage decides about a request, as data.

use std::borrow::Cow;
use std::time::Duration;

/// A stage's decision for one phase of one request.
///
/// Verdicts are data, never errors: a stage that cannot decide (its state store is down, say)
/// returns a [`crate::StageError`] instead, and its [`crate::OnError`] policy picks the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to say; later stages run.
    Continue,
    /// Let the request through and skip every later stage (an allow list, say).
    Allow,
    /// The client must prove it is a browser before it is served.
    Challenge { reason: Cow<'static, str> },
    /// Too much, too fast: answer 429 with `Retry-After`.
    Throttle { retry_after: Duration, reason: Cow<'static, str> },
    /// Refuse the request with `status` (403 for policy, 503 when shedding load).
    Block { status: u16, reason: Cow<'static, str> },
}

impl Verdict {
    /// A 403 block with a static reason: the common case for deny lists and bans.
    pub fn forbidden(reason: impl Into<Cow<'static, str>>) -> Verdict {
        Verdict::Block { status: 403, reason: reason.into() }
    }

    /// How strongly this verdict wins over another when several stages spoke.
    ///
    /// `Block` beats `Throttle` beats `Challenge` beats `Continue`. `Allow` has no rank here
    /// because it is not combined: an enforced `Allow` ends the phase at once.
    pub fn precedence(&self) -> u8 {
        match self {
            Verdict::Continue | Verdict::Allow => 0,
            Verdict::Challenge { .. } => 1,
            Verdict::Throttle { .. } => 2,
            Verdict::Block { .. } => 3,
        }
    }

    /// True when the verdict stops the request from reaching the upstream.
    pub fn is_disruptive(&self) -> bool {
        self.precedence() > 0
    }

    /// A short lowercase name for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Continue => "continue",
            Verdict::Allow => "allow",
            Verdict::Challenge { .. } => "challenge",
            Verdict::Throttle { .. } => "throttle",
            Verdict::Block { .. } => "block",
        }
    }

    /// The reason a disruptive verdict carries; empty for `Continue` and `Allow`.
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Continue | Verdict::Allow => "",
            Verdict::Challenge { reason }
            | Verdict::Throttle { reason, .. }
            | Verdict::Block { reason, .. } => reason,
        }
    }
}

/// A verdict together with who gave it and whether it was enforced.
///
/// Detection-only stages (and every stage when the whole pipeline runs in detect mode) produce
/// decisions with `enforced: false`: they are logged and counted, but the request goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub stage: &'static str,
    pub verdict: Verdict,
    pub enforced: bool,
}

/// A fact a stage attaches to the request for later stages, the log and the audit trail
/// (an anomaly score, a matched rule id, a rate-limit key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: &'static str,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_orders_block_over_throttle_over_challenge() {
        let block = Verdict::forbidden("x");
        let throttle = Verdict::Throttle { retry_after: Duration::from_secs(1), reason: "r".into() };
        let challenge = Verdict::Challenge { reason: "c".into() };
        assert!(block.precedence() > throttle.precedence());
        assert!(throttle.precedence() > challenge.precedence());
        assert!(challenge.precedence() > Verdict::Continue.precedence());
        assert!(!Verdict::Allow.is_disruptive());
    }
}
