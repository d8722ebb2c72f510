//! Which forwarding fields the proxy sets on a request toward an upstream.

/// A set of the forwarding fields Rampart writes toward an upstream (`[[upstream]]
/// forward_headers`). By default all of them: `X-Forwarded-For`, `X-Forwarded-Proto`,
/// `X-Forwarded-Host`, `Forwarded` (RFC 7239) and `X-Request-Id`.
///
/// A field left out of the set is not sent at all: the client's own copies of it are dropped
/// as always (a client must not be able to tell the application who it is), and Rampart's is
/// not written. The request id is still made, logged and returned to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardHeaders(u8);

impl ForwardHeaders {
    pub const X_FORWARDED_FOR: ForwardHeaders = ForwardHeaders(1);
    pub const X_FORWARDED_PROTO: ForwardHeaders = ForwardHeaders(1 << 1);
    pub const X_FORWARDED_HOST: ForwardHeaders = ForwardHeaders(1 << 2);
    pub const FORWARDED: ForwardHeaders = ForwardHeaders(1 << 3);
    pub const X_REQUEST_ID: ForwardHeaders = ForwardHeaders(1 << 4);
    /// Every field (the default).
    pub const ALL: ForwardHeaders = ForwardHeaders(0b1_1111);
    /// No field.
    pub const NONE: ForwardHeaders = ForwardHeaders(0);

    /// Each field by its name (lowercase, as written in `rampart.toml` and on the wire).
    pub const NAMES: [(&'static str, ForwardHeaders); 5] = [
        ("x-forwarded-for", ForwardHeaders::X_FORWARDED_FOR),
        ("x-forwarded-proto", ForwardHeaders::X_FORWARDED_PROTO),
        ("x-forwarded-host", ForwardHeaders::X_FORWARDED_HOST),
        ("forwarded", ForwardHeaders::FORWARDED),
        ("x-request-id", ForwardHeaders::X_REQUEST_ID),
    ];

    /// Whether every field of `other` is in the set.
    pub const fn contains(self, other: ForwardHeaders) -> bool {
        self.0 & other.0 == other.0
    }

    /// The set with `other`'s fields added.
    #[must_use]
    pub const fn with(self, other: ForwardHeaders) -> ForwardHeaders {
        ForwardHeaders(self.0 | other.0)
    }

    /// The set without `other`'s fields.
    #[must_use]
    pub const fn without(self, other: ForwardHeaders) -> ForwardHeaders {
        ForwardHeaders(self.0 & !other.0)
    }

    /// The field named `name` (ASCII case ignored), if it is one of them.
    pub fn named(name: &str) -> Option<ForwardHeaders> {
        ForwardHeaders::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, f)| f)
    }
}

impl Default for ForwardHeaders {
    fn default() -> ForwardHeaders {
        ForwardHeaders::ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_the_whole_set_once_each() {
        let every = ForwardHeaders::NAMES.iter().fold(ForwardHeaders::NONE, |s, &(_, f)| {
            assert!(!s.contains(f), "{f:?} named twice");
            s.with(f)
        });
        assert_eq!(every, ForwardHeaders::ALL);
        assert_eq!(ForwardHeaders::named("Forwarded"), Some(ForwardHeaders::FORWARDED));
        assert_eq!(ForwardHeaders::named("x-forwarded-port"), None);
        let some = ForwardHeaders::ALL.without(ForwardHeaders::FORWARDED);
        assert!(some.contains(ForwardHeaders::X_REQUEST_ID) && !some.contains(ForwardHeaders::FORWARDED));
        assert!(ForwardHeaders::NONE.contains(ForwardHeaders::NONE));
    }
}
