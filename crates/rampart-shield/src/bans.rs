//! [`Bans`]: refuse clients on the shared [`BanList`] until their ban ends.
//!
//! Runs in the connection phase (the socket peer or PROXY-protocol address) and again in the
//! request-header phase (the client after trusted-proxy resolution), so that a client behind
//! a trusted proxy is caught too. Place it first: a banned client should cost a hash probe,
//! not a pass through every later stage.

use std::sync::Arc;

use rampart_core::{ConnectionInfo, OnError, RequestContext, Stage, StageError, StageMode, Verdict};
use rampart_state::{BanList, Clock};

/// How the [`Bans`] stage is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BansSettings {
    /// Default: enforce.
    pub mode: StageMode,
    /// Default: open.
    pub on_error: OnError,
}

impl Default for BansSettings {
    fn default() -> Self {
        BansSettings { mode: StageMode::Enforce, on_error: OnError::Open }
    }
}

/// The ban-enforcing stage.
pub struct Bans {
    settings: BansSettings,
    list: Arc<BanList>,
    clock: Arc<dyn Clock>,
}

impl Bans {
    pub fn new(settings: BansSettings, list: Arc<BanList>, clock: Arc<dyn Clock>) -> Bans {
        Bans { settings, list, clock }
    }

    fn decide(&self, client: std::net::IpAddr) -> Verdict {
        if self.list.is_banned(client, self.clock.now()) {
            Verdict::forbidden("temporarily banned")
        } else {
            Verdict::Continue
        }
    }
}

impl Stage for Bans {
    fn name(&self) -> &'static str {
        "bans"
    }

    /// The shared ban list's fixed allocation (counted here once, not by each rate limit).
    fn memory_bytes(&self) -> usize {
        self.list.memory_bytes()
    }

    fn mode(&self) -> StageMode {
        self.settings.mode
    }

    fn on_error(&self) -> OnError {
        self.settings.on_error
    }

    fn reads_request_headers_late(&self) -> bool {
        false
    }

    fn on_connection(&self, conn: &ConnectionInfo) -> Result<Verdict, StageError> {
        Ok(self.decide(conn.client))
    }

    fn on_request_headers(&self, ctx: &mut RequestContext) -> Result<Verdict, StageError> {
        Ok(self.decide(ctx.client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_state::ManualClock;
    use std::time::Duration;

    #[test]
    fn banned_clients_are_refused_in_both_phases_until_the_ban_ends() {
        let clock = Arc::new(ManualClock::new());
        let list = Arc::new(BanList::new(16));
        let now = clock.now();
        list.ban("2001:db8::/64".parse().unwrap(), now + Duration::from_secs(30), now);
        let bans = Bans::new(BansSettings::default(), list, clock.clone());

        let client: std::net::IpAddr = "2001:db8::99".parse().unwrap();
        let conn = ConnectionInfo {
            peer: std::net::SocketAddr::new(client, 1234),
            client,
            local: "[::1]:443".parse().unwrap(),
            tls: None,
        };
        assert_eq!(bans.on_connection(&conn).unwrap(), Verdict::forbidden("temporarily banned"));
        let mut ctx = RequestContext::for_test(http::Method::GET, "/", "192.0.2.1".parse().unwrap());
        assert_eq!(bans.on_request_headers(&mut ctx).unwrap(), Verdict::Continue);
        ctx.client = client;
        assert_eq!(bans.on_request_headers(&mut ctx).unwrap(), Verdict::forbidden("temporarily banned"));

        clock.advance(Duration::from_secs(30));
        assert_eq!(bans.on_connection(&conn).unwrap(), Verdict::Continue);
    }
}
