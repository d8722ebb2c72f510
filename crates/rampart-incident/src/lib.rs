//! Incidents: opened when an attack is detected, followed while it lasts, closed after calm,
//! and reported in the forms an organisation needs afterwards.
//!
//! # Layout
//!
//! * [`tracker`]: the [`Tracker`] — an event sink and the last stage of the pipeline (logging
//!   hook only) — which opens, follows and closes incidents.
//! * [`building`] (private): an open incident and its bounded accumulators.
//! * [`model`]: the [`Incident`] as stored and reported: timeline, scale, attack vectors with
//!   their CAPEC ids, mitigations and what each stopped, impact on legitimate users.
//! * [`sketch`]: the bounded source summaries (HyperLogLog distinct count, space-saving top-K
//!   of /24 and /64 networks); [`latency`]: fixed-size latency histograms per user group.
//! * [`store`]: one JSON file per incident, replaced atomically.
//! * Reports: [`stix`] (a STIX 2.1 bundle), [`html`] (a self-contained page with SVG charts
//!   and the fields a national CSC asks for), [`checkpoint`] (the audit checkpoint they embed).
//! * [`time`]: RFC 3339 timestamps without a date crate.
//!
//! Nothing here does I/O on the request path: hooks count under a short lock, and
//! [`Tracker::tick`], called from the binary's own thread, writes files.

mod building;
pub mod checkpoint;
pub mod html;
pub mod latency;
pub mod model;
pub mod settings;
pub mod sketch;
pub mod stix;
pub mod store;
pub mod svg;
pub mod time;
pub mod tracker;

pub use model::{Incident, Reporter, Status, Tlp};
pub use settings::Settings;
pub use store::{is_incident_id, Store, StoreError};
pub use time::Timestamp;
pub use tracker::{Sample, Tracker};
