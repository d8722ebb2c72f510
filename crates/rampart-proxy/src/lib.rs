//! `rampart-proxy`: the front end of the shield.
//!
//! # Layout
//!
//! * [`listener`]: accept loops — connection guard, PROXY protocol, TLS, then HTTP on a
//!   [`io::GuardedIo`] that enforces idle and write timeouts: HTTP/1.1 on our own connection
//!   ([`downstream`]), HTTP/2 on hyper's.
//! * [`downstream`]: a client's HTTP/1.1 connection — request heads, bodies, keep-alive,
//!   pipelining, responses — driven by its own task; [`http1`] holds what it shares with the
//!   upstream side (chunked coding, field names).
//! * [`service`]: one request's way through: hygiene checks, client identity, routing, the
//!   pipeline's phases, forwarding, the access log line.
//! * [`forward`]: the request toward the upstream (forwarding headers, hop-by-hop removal) and
//!   the response back.
//! * [`upstream`]: pools, balancing, health checks, passive ejection; keep-alive connections
//!   per worker thread.
//! * [`workers`]: one thread and single-threaded runtime per core; the accept loops hand each
//!   connection to one, and it stays there.
//! * [`admission`]: each pool's adaptive concurrency limit and its lanes (staff first, the
//!   public shed first).
//! * [`sniff`]: an HTTP/2 connection's bytes as hyper reads them, followed by the frame guard
//!   ([`h2_frames`]).
//! * [`guard`], [`hygiene`], [`client_ip`], [`proxy_protocol`], [`tls`], [`pages`],
//!   [`metrics`], [`body`], [`route`]: the pieces those use.
//! * [`tunnel`]: WebSocket upgrades — the handshake through the stages, then the client's
//!   connection joined to the upstream's.
//! * [`metered`]: the response body of a sensitive or flagged request, counted as it streams
//!   and reported to the audit trail as one access when it ends.
//!
//! A [`Proxy`] holds the running [`Runtime`] (routes, pools, pipeline, limits) behind an
//! atomic pointer: a reload builds a whole new runtime and swaps it in; requests in flight finish
//! on the runtime they started with, and no connection is dropped.

pub mod accept;
mod affinity;
pub mod admission;
pub mod body;
pub mod client_ip;
pub mod downstream;
pub mod drain;
pub mod forward;
pub mod guard;
pub mod h2_frames;
pub mod http1;
pub mod hygiene;
pub mod io;
pub mod listener;
pub mod metered;
pub mod metrics;
pub mod pages;
pub mod proxy_protocol;
pub mod route;
pub mod sched;
pub mod service;
pub mod sniff;
pub mod settings;
pub mod shard;
pub mod tls;
pub mod tunnel;
pub mod upstream;
pub mod workers;

mod runtime;

pub use runtime::{Proxy, Runtime, RuntimeError};
pub use settings::*;
