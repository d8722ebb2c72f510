//! The sample app that `rampart demo` protects: **Campaign Contacts**, a small
//! canvassing database with staff logins, search, contact pages, a CSV export
//! and a JSON API — realistic enough to defend and to attack in drills. It
//! depends on no other Rampart crate.
//!
//! ## How the pieces fit
//!
//! [`TestbedOptions`] says what to build. [`Testbed::new`] seeds a SQLite
//! database (in memory, or at [`TestbedOptions::database`]) with synthetic
//! contacts from [`TestbedOptions::seed`], draws a random session-signing key
//! and builds the state; [`Testbed::router`] hands out the axum router over
//! it, and [`serve`] does both and serves a listener until a shutdown future
//! completes.
//!
//! | path | what | needs login¹ |
//! |---|---|---|
//! | `GET /` | home page | no |
//! | `GET/POST /login`, `GET/POST /logout` | form login, `session` cookie | no |
//! | `GET /contacts?q=&page=` | search, 50 a page | yes |
//! | `GET /contacts/{id}` | one contact, 404 if unknown | yes |
//! | `GET /export.csv?q=` | every match as CSV, header first | yes |
//! | `GET /api/contacts?q=&page=` | JSON array, 50 a page | yes |
//! | `GET /healthz` | `ok` (outside the capacity limit) | no |
//!
//! ¹ unless [`TestbedOptions::require_login`] is false. Without a session a
//! protected page answers `401` (the login form, or JSON for `/api/…` and
//! `Accept: application/json`). Pages answer JSON when asked with
//! `Accept: application/json`.
//!
//! ## Accounts (documented on purpose, for demos and drills)
//!
//! | username | password | role |
//! |---|---|---|
//! | `staff@campaign.example` | `doorstep-ledger-42` | staff — the demo account, [`DEMO_USERNAME`] / [`DEMO_PASSWORD`] |
//! | `organiser@campaign.example` | `marginal-seat-canvass-7` | organiser |
//! | `data@campaign.example` | `electoral-roll-vault-19` | data protection |
//! | `admin@campaign.example` | `rosette-printer-88` | admin |
//!
//! [`accounts()`] lists the usernames; the code keeps only salted PBKDF2
//! hashes. [`leaked_passwords`] gives ~10,000 `user:password` pairs for
//! credential-stuffing drills that contain no working credential.
//!
//! ## Example
//!
//! ```no_run
//! # async fn run() -> Result<(), rampart_testbed::TestbedError> {
//! use rampart_testbed::{serve, TestbedOptions};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(serve(listener, TestbedOptions::default(), async {
//!     let _ = stopped.await;
//! }));
//! println!("testbed on http://{addr}");
//! // … drive traffic at it …
//! let _ = stop.send(());
//! # let _ = server.await;
//! # Ok(())
//! # }
//! ```
//!
//! ## ⚠ Vulnerable mode — tests and drills only
//!
//! [`TestbedOptions::vulnerable`] turns the search into **real SQL injection**
//! against the SQLite database (`q` is concatenated into the SQL; the `users`
//! table with the password hashes is one `UNION SELECT` away) and makes the
//! search page reflect `q` **unescaped** (reflected XSS, no CSP). It exists
//! so the WAF can be shown stopping real attacks. It is off by default, and
//! [`serve`] refuses it unless the listener is bound to a loopback address.
//! If you build the router yourself with [`Testbed::router`], binding
//! loopback is your job: never expose a vulnerable testbed to a network.
//!
//! ## Layout
//!
//! `options.rs` (options and validation) · `seed.rs` (synthetic contacts) ·
//! `db.rs` (schema, pool, queries) · `accounts.rs` (staff accounts, password
//! hashing) · `session.rs` (signed cookies) · `leaked.rs` (drill list) ·
//! `capacity.rs` (concurrency limit, load gauge) · `html.rs` (layout, CSS,
//! escaping) · `respond.rs` (shared responses) · `routes/` (one file per page).

mod accounts;
mod app;
mod capacity;
mod db;
mod error;
mod html;
mod leaked;
mod options;
mod respond;
mod routes;
mod seed;
mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub use accounts::{accounts, Account, DEMO_PASSWORD, DEMO_USERNAME};
pub use capacity::LoadSnapshot;
pub use db::PAGE_SIZE;
pub use error::TestbedError;
pub use leaked::{leaked_passwords, LEAKED_PASSWORDS_LEN};
pub use options::{TestbedOptions, MAX_CONTACTS};
pub use seed::{Contact, CANVASS_STATUSES};

use app::App;
use capacity::Capacity;
use db::Database;
use session::SessionKey;

/// A built testbed: the seeded database and everything the router needs.
/// Build it once; [`Testbed::router`] may be called any number of times and
/// every router shares the same database, sessions and capacity limit.
pub struct Testbed {
    app: Arc<App>,
    capacity: Arc<Capacity>,
}

impl Testbed {
    /// Validates `opts`, creates and seeds the database and draws a fresh
    /// session key. Blocking (seeding 5,000 contacts takes a few tens of
    /// milliseconds); from async code prefer [`serve`], which runs it on the
    /// blocking pool.
    pub fn new(opts: TestbedOptions) -> Result<Testbed, TestbedError> {
        opts.validate()?;
        let db = Database::create(opts.database.as_deref(), opts.contacts, opts.seed)?;
        if opts.vulnerable {
            tracing::warn!("testbed built in VULNERABLE mode (SQL injection, reflected XSS): tests and drills only");
        }
        let app = App {
            db: Arc::new(db),
            sessions: SessionKey::random(),
            vulnerable: opts.vulnerable,
            require_login: opts.require_login,
            contacts: opts.contacts,
        };
        Ok(Testbed {
            app: Arc::new(app),
            capacity: Arc::new(Capacity::new(opts.max_concurrent, opts.work_delay)),
        })
    }

    /// The app's axum router (state already applied).
    pub fn router(&self) -> axum::Router {
        routes::router(Arc::clone(&self.app), Arc::clone(&self.capacity))
    }

    /// Requests in flight now, the peak so far and how many were served.
    pub fn load(&self) -> LoadSnapshot {
        self.capacity.snapshot()
    }

    /// Whether this testbed was built in vulnerable mode.
    pub fn is_vulnerable(&self) -> bool {
        self.app.vulnerable
    }
}

/// Builds a testbed from `opts` and serves it on `listener` until `shutdown`
/// completes (then finishes the requests in flight and returns).
///
/// Errors: [`TestbedError::VulnerableNotLoopback`] when `opts.vulnerable` is
/// set and the listener is not bound to a loopback address (checked before
/// anything is built); option, database and listener errors otherwise.
pub async fn serve(
    listener: tokio::net::TcpListener,
    opts: TestbedOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TestbedError> {
    let addr = listener.local_addr()?;
    if opts.vulnerable {
        ensure_loopback(addr)?;
    }
    let vulnerable = opts.vulnerable;
    let testbed = tokio::task::spawn_blocking(move || Testbed::new(opts)).await??;
    tracing::info!(%addr, vulnerable, "testbed serving");
    axum::serve(listener, testbed.router()).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// Ok only for loopback addresses (`127.0.0.0/8`, `::1`, and `::ffff:127.x`).
fn ensure_loopback(addr: SocketAddr) -> Result<(), TestbedError> {
    if addr.ip().to_canonical().is_loopback() {
        Ok(())
    } else {
        Err(TestbedError::VulnerableNotLoopback { addr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_passes() {
        for ok in ["127.0.0.1:80", "127.8.9.10:1", "[::1]:8080", "[::ffff:127.0.0.1]:9"] {
            assert!(ensure_loopback(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in ["0.0.0.0:80", "192.0.2.10:80", "[::]:80", "10.0.0.1:80", "[2001:db8::1]:80", "[::ffff:192.0.2.1]:9"] {
            assert!(matches!(
                ensure_loopback(bad.parse().unwrap()),
                Err(TestbedError::VulnerableNotLoopback { .. })
            ), "{bad}");
        }
    }
}
