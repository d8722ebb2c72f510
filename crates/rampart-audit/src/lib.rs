//! Rampart's tamper-evident audit trail.
//!
//! Every security event becomes a canonical [`Record`] (sorted-key JSON, its sequence number
//! inside), and every record a leaf of an RFC 6962 Merkle tree. How the parts fit:
//!
//! * [`AuditLog`] owns a log directory. Appends go to a writer thread ([`writer`]) that frames
//!   records into `segment-NNNNNNNNNNNN.log` files ([`segment`]: length + CRC-32 + payload),
//!   group-commits them with one fsync per batch, keeps the tree as a [`merkle::Frontier`]
//!   (`O(log n)` hashes), and at least every `checkpoint_interval` after the tree grew signs a
//!   [`Checkpoint`] (C2SP tlog-checkpoint in a signed note, Ed25519, [`note`]) into
//!   `checkpoints/NNNNNNNNNNNN`. Opening replays the log against its latest checkpoint and cuts
//!   off a torn tail; damage anywhere else is an error naming segment, offset and record.
//! * [`verify::verify`] checks a directory from its files alone: every checkpoint signature,
//!   every record's position, the rebuilt tree against every checkpoint.
//! * [`proof`] generates and verifies inclusion and consistency proofs (RFC 9162 §2.1.3–2.1.4);
//!   [`inclusion`] packages one as the JSON file `rampart audit prove` prints.
//! * [`AuditSink`] turns the shield's `rampart_core::Event`s into records without ever blocking
//!   the request path, and sums sensitive routes' egress per interval ([`egress`]).
//! * [`assess`] reads a verified log back and answers "did any data leave?" for a time window.
//!
//! Layout of a log directory:
//!
//! ```text
//! segment-000000000000.log     records 0.. (a new segment once one reaches segment_max_bytes)
//! segment-000001048576.log
//! checkpoints/000001048600     signed tree heads, named by tree size
//! verifier-key                 name+keyid+base64 (a convenience copy: pin the key you hold)
//! ```
//!
//! One process writes a directory at a time; nothing here enforces it.

pub mod assess;
pub mod base;
pub mod checkpoint;
pub mod egress;
mod error;
pub mod inclusion;
mod log;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod record;
mod replay;
mod retention;
pub mod segment;
mod sink;
pub mod verify;
mod writer;

pub use checkpoint::Checkpoint;
pub use error::AuditError;
pub use inclusion::{ConsistencyProof, InclusionProof};
pub use log::{AuditLog, Opened, Options};
pub use note::{NoteSigner, NoteVerifier};
pub use record::{Record, StoredRecord};
pub use replay::Expected;
pub use retention::Retention;
pub use sink::{record_of, unverified, AuditSink};
pub use verify::{verify, Verified};
