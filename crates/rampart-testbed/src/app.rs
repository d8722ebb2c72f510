//! The state every handler shares.

use std::sync::Arc;

use axum::http::HeaderMap;

use crate::accounts::Account;
use crate::db::Database;
use crate::session::SessionKey;

/// Built once by [`crate::Testbed::new`]; handlers get it as `State<Shared>`.
pub(crate) struct App {
    /// The seeded database and its connection pool.
    pub db: Arc<Database>,
    /// Signs and checks `session` cookies.
    pub sessions: SessionKey,
    /// Deliberately injectable search and unescaped reflection (drills only).
    pub vulnerable: bool,
    /// Whether the contact pages need a session.
    pub require_login: bool,
    /// How many contacts were seeded (shown on the home page).
    pub contacts: usize,
}

/// How handlers hold the [`App`].
pub(crate) type Shared = Arc<App>;

impl App {
    /// The signed-in account, if the request carries a valid session cookie.
    pub fn user(&self, headers: &HeaderMap) -> Option<Account> {
        self.sessions.account(headers)
    }
}
