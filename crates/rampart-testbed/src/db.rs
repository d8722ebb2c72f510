//! The SQLite database: schema, seeding, and a small pool of read-only
//! connections used from `spawn_blocking`.
//!
//! ## Why a hand-rolled pool of `Mutex<Connection>`
//!
//! After seeding, the testbed only ever reads, so any connection can serve any
//! request. A single `Mutex<Connection>` would serialise every query and make
//! the database, not the configured [`max_concurrent`](crate::TestbedOptions)
//! limit, the app's bottleneck in flood drills. `r2d2` would fix that at the
//! price of two more crates and a health-check loop we do not need for a
//! fixed set of connections that never go stale. So: a fixed `Vec` of
//! `Mutex<Connection>` (one per core, at least two, at most four), a
//! round-robin start, `try_lock` to find a free one, and `spawn_blocking` so
//! SQLite never blocks the async workers.
//!
//! The in-memory database is a named shared-cache database
//! (`file:…?mode=memory&cache=shared`) so the pool's connections see the same
//! data; the seeding connection is kept open because the database vanishes
//! when its last connection closes. Pool connections run with
//! `PRAGMA query_only`, so not even the vulnerable mode's SQL injection can
//! change the data.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use rusqlite::{params, Connection, OpenFlags};

use crate::accounts;
use crate::seed::{self, Contact};

/// Contacts per page of `/contacts` and `/api/contacts`.
pub const PAGE_SIZE: u32 = 50;

/// The columns every contact query selects, in [`Contact`] field order.
const COLUMNS: &str = "id, name, email, phone, postcode, ward, canvass_status, notes";

/// What `q` is matched against (case-insensitive substring).
const SEARCH_TEXT: &str =
    "(name || ' ' || email || ' ' || phone || ' ' || postcode || ' ' || ward || ' ' || canvass_status)";

/// A failure while answering a request from the database.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// SQLite refused or failed the query (in vulnerable mode: often the
    /// attacker's broken SQL).
    #[error("{0}")]
    Sql(#[from] rusqlite::Error),
    /// The blocking task panicked or was cancelled.
    #[error("database worker failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// Which rows of a search to return.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Window {
    /// Page `n` (1-based) of [`PAGE_SIZE`] rows.
    Page(u32),
    /// Every matching row (CSV export).
    All,
}

/// One answer to a search.
#[derive(Debug)]
pub(crate) struct SearchResult {
    /// The rows in the window, ordered by id.
    pub contacts: Vec<Contact>,
    /// Every row that matches; `None` when the count query failed (which can
    /// only happen in vulnerable mode, when injected SQL fits the row query
    /// but not the count query).
    pub total: Option<i64>,
}

/// The seeded database and its pool.
pub(crate) struct Database {
    /// Keeps a shared-cache in-memory database alive; never used for queries.
    /// (In a `Mutex` only because `Connection` is `Send` but not `Sync`.)
    _keeper: Mutex<Connection>,
    pool: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl Database {
    /// Creates (or replaces) the schema at `path` (in memory when `None`),
    /// seeds `count` contacts from `seed`, and opens the read-only pool.
    pub fn create(path: Option<&Path>, count: usize, seed: u64) -> Result<Database, rusqlite::Error> {
        let target = match path {
            Some(p) => p.to_string_lossy().into_owned(),
            None => format!(
                "file:rampart-testbed-{}-{:016x}?mode=memory&cache=shared",
                std::process::id(),
                rand::random::<u64>()
            ),
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut keeper = Connection::open_with_flags(&target, flags)?;
        seed_database(&mut keeper, count, seed)?;

        let size = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4);
        let pool = (0..size)
            .map(|_| {
                let conn = Connection::open_with_flags(&target, flags)?;
                conn.pragma_update(None, "query_only", true)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>, rusqlite::Error>>()?;
        Ok(Database { _keeper: Mutex::new(keeper), pool, next: AtomicUsize::new(0) })
    }

    /// Runs `f` on a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let db = Arc::clone(self);
        let answer = tokio::task::spawn_blocking(move || f(&db.checkout())).await?;
        Ok(answer?)
    }

    /// A free connection if there is one, else waits for the next in turn.
    fn checkout(&self) -> MutexGuard<'_, Connection> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.pool.len();
        for i in 0..n {
            match self.pool[(start + i) % n].try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.pool[start % n].lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn seed_database(conn: &mut Connection, count: usize, seed: u64) -> Result<(), rusqlite::Error> {
    conn.execute_batch(
        "DROP TABLE IF EXISTS contacts;
         DROP TABLE IF EXISTS users;
         CREATE TABLE contacts (
             id INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             email TEXT NOT NULL,
             phone TEXT NOT NULL,
             postcode TEXT NOT NULL,
             ward TEXT NOT NULL,
             canvass_status TEXT NOT NULL,
             notes TEXT NOT NULL
         );
         -- The staff accounts, as a real app would keep them. Login checks the
         -- built-in table in accounts.rs; this copy is what an attacker who
         -- finds the vulnerable mode's SQL injection goes after.
         CREATE TABLE users (
             username TEXT PRIMARY KEY,
             role TEXT NOT NULL,
             password_salt TEXT NOT NULL,
             password_hash TEXT NOT NULL
         );",
    )?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO contacts (id, name, email, phone, postcode, ward, canvass_status, notes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for c in seed::contacts(count, seed) {
            insert.execute(params![c.id, c.name, c.email, c.phone, c.postcode, c.ward, c.canvass_status, c.notes])?;
        }
        let mut insert_user = tx.prepare(
            "INSERT INTO users (username, role, password_salt, password_hash) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for a in accounts::stored_accounts() {
            insert_user.execute(params![a.username, a.role, a.salt_hex, a.hash_hex])?;
        }
    }
    tx.commit()
}

/// One contact by id, or `None`.
pub(crate) fn contact(conn: &Connection, id: i64) -> Result<Option<Contact>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM contacts WHERE id = ?1"))?;
    let mut rows = stmt.query_map([id], row_to_contact)?;
    rows.next().transpose()
}

/// Searches contacts whose text contains `q` (case-insensitive).
///
/// Safe mode binds `q` as a parameter, with `%`, `_` and `\` escaped so they
/// match literally. Vulnerable mode pastes `q` into the SQL text: `'` ends the
/// string literal and the rest of `q` is SQL (`' OR 1=1 --` matches every row
/// and comments out the `LIMIT`; `' UNION SELECT …` reads other tables).
pub(crate) fn search(conn: &Connection, q: &str, window: Window, vulnerable: bool) -> Result<SearchResult, rusqlite::Error> {
    let limit = match window {
        Window::Page(page) => {
            let offset = u64::from(page.max(1) - 1) * u64::from(PAGE_SIZE);
            format!(" LIMIT {PAGE_SIZE} OFFSET {offset}")
        }
        Window::All => String::new(),
    };
    if vulnerable {
        // DELIBERATELY INJECTABLE. Never copy this.
        let rows_sql = format!("SELECT {COLUMNS} FROM contacts WHERE {SEARCH_TEXT} LIKE '%{q}%' ORDER BY id{limit}");
        let count_sql = format!("SELECT COUNT(*) FROM contacts WHERE {SEARCH_TEXT} LIKE '%{q}%'");
        let contacts = {
            let mut stmt = conn.prepare(&rows_sql)?;
            let rows = stmt.query_map([], row_to_contact)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let total = conn.query_row(&count_sql, [], |r| r.get(0)).ok();
        return Ok(SearchResult { contacts, total });
    }
    let pattern = format!("%{}%", escape_like(q));
    let contacts = {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE {SEARCH_TEXT} LIKE ?1 ESCAPE '\\' ORDER BY id{limit}"
        ))?;
        let rows = stmt.query_map([&pattern], row_to_contact)?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    let total = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM contacts WHERE {SEARCH_TEXT} LIKE ?1 ESCAPE '\\'"))?
        .query_row([&pattern], |r| r.get(0))?;
    Ok(SearchResult { contacts, total: Some(total) })
}

/// Escapes `LIKE` wildcards so `q` matches literally (with `ESCAPE '\'`).
fn escape_like(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reads a row selected with [`COLUMNS`]. Values are read as text where the
/// vulnerable mode's `UNION SELECT` may have put numbers or NULLs.
fn row_to_contact(row: &rusqlite::Row<'_>) -> Result<Contact, rusqlite::Error> {
    Ok(Contact {
        id: row.get::<_, Option<i64>>(0).ok().flatten().unwrap_or_default(),
        name: text(row, 1)?,
        email: text(row, 2)?,
        phone: text(row, 3)?,
        postcode: text(row, 4)?,
        ward: text(row, 5)?,
        canvass_status: text(row, 6)?,
        notes: text(row, 7)?,
    })
}

fn text(row: &rusqlite::Row<'_>, idx: usize) -> Result<String, rusqlite::Error> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Database {
        Database::create(None, 300, 1).expect("database")
    }

    #[test]
    fn safe_search_treats_quotes_and_wildcards_literally() {
        let db = db();
        let conn = db.checkout();
        let all = search(&conn, "", Window::All, false).unwrap();
        assert_eq!(all.contacts.len(), 300);
        assert_eq!(all.total, Some(300));
        let inj = search(&conn, "' OR 1=1 --", Window::All, false).unwrap();
        assert!(inj.contacts.is_empty());
        let pct = search(&conn, "%", Window::All, false).unwrap();
        assert!(pct.contacts.is_empty());
    }

    #[test]
    fn pages_are_page_size_and_disjoint() {
        let db = db();
        let conn = db.checkout();
        let p1 = search(&conn, "", Window::Page(1), false).unwrap();
        let p2 = search(&conn, "", Window::Page(2), false).unwrap();
        assert_eq!(p1.contacts.len(), PAGE_SIZE as usize);
        assert_eq!(p1.contacts[0].id, 1);
        assert_eq!(p2.contacts[0].id, i64::from(PAGE_SIZE) + 1);
        let last = search(&conn, "", Window::Page(7), false).unwrap();
        assert_eq!(last.contacts.len(), 0);
    }

    #[test]
    fn vulnerable_search_is_injectable_but_read_only() {
        let db = db();
        let conn = db.checkout();
        let inj = search(&conn, "' OR 1=1 --", Window::Page(1), true).unwrap();
        assert_eq!(inj.contacts.len(), 300, "the injection comments out the LIMIT");
        let union = search(
            &conn,
            "zzz' UNION SELECT 0, username, password_hash, password_salt, role, '', '', '' FROM users --",
            Window::All,
            true,
        )
        .unwrap();
        assert_eq!(union.contacts.len(), accounts::accounts().len());
        // query_only: a write through the pool fails.
        assert!(conn.execute("DELETE FROM contacts", []).is_err());
    }

    #[test]
    fn contact_by_id() {
        let db = db();
        let conn = db.checkout();
        assert_eq!(contact(&conn, 5).unwrap().map(|c| c.id), Some(5));
        assert!(contact(&conn, 301).unwrap().is_none());
    }
}
