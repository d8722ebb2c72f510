//! The one error type of this crate.

use std::net::SocketAddr;

/// Why the testbed could not be built or served.
///
/// Request-time failures never surface here: handlers turn them into HTTP
/// responses (see `respond.rs`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestbedError {
    /// `vulnerable: true` was asked for on a listener that is reachable from
    /// other machines. The vulnerable mode is for tests and drills only.
    #[error(
        "refusing to serve the deliberately vulnerable testbed on {addr}: \
         vulnerable mode must bind a loopback address (127.0.0.0/8 or ::1)"
    )]
    VulnerableNotLoopback {
        /// The listener's local address.
        addr: SocketAddr,
    },
    /// An option is out of range; the message names it.
    #[error("invalid testbed option: {0}")]
    InvalidOption(String),
    /// Creating, seeding or opening the SQLite database failed.
    #[error("testbed database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The task that seeds the database panicked or was cancelled.
    #[error("testbed start-up task failed: {0}")]
    Startup(#[from] tokio::task::JoinError),
    /// The listener failed (reading its address, or serving).
    #[error("testbed listener: {0}")]
    Io(#[from] std::io::Error),
}
