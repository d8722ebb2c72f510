//! The pipeline every request passes through, and the vocabulary the rest of Rampart shares.
//!
//! # Layout
//!
//! * [`verdict`]: what a stage decides ([`Verdict`]), and how several decisions combine
//!   ([`Verdict::precedence`]).
//! * [`stage`]: the [`Stage`] trait — one hook per phase of a request's life, each with a
//!   default that does nothing — plus [`StageMode`] (enforce or detect) and [`OnError`].
//! * [`context`]: what a stage can see: the [`ConnectionInfo`] at accept time and the
//!   [`RequestContext`] once a request head has been parsed.
//! * [`pipeline`]: the ordered set of stages built from configuration, which runs a phase and
//!   returns one [`Outcome`] with every [`Decision`] it took.
//! * [`gate`]: the [`Gate`] that renders a challenge and answers the challenge endpoint.
//! * [`event`]: what the pipeline reports to metrics, logs and (later) the audit trail.
//! * [`forwarding`]: which forwarding fields go to an upstream ([`ForwardHeaders`]).
//! * [`units`]: sizes, durations and rates as users write them (`64KiB`, `250ms`, `20/s`).
//!
//! Nothing here knows about sockets or hyper: stages see `http` types and plain data, so that
//! the same stage runs behind any front end and in unit tests without a server.

pub mod context;
pub mod event;
pub mod forwarding;
pub mod gate;
pub mod pipeline;
pub mod stage;
pub mod units;
pub mod verdict;

pub use context::{
    cookie_in, ConnectionInfo, Identity, RequestContext, RequestId, ResponseFacts, RouteInfo, TlsFacts, PUBLIC_CLASS,
};
pub use event::{Access, Event, EventSink, NullSink};
pub use forwarding::ForwardHeaders;
pub use gate::{Gate, GateRequest, Pressure, Reply, GATE_MAX_BODY};
pub use pipeline::{Outcome, Pipeline};
pub use stage::{OnError, Phase, Stage, StageError, StageMode};
pub use units::{parse_byte_rate, parse_byte_size, parse_duration, parse_rate, Rate, UnitError};
pub use verdict::{Decision, Tag, Verdict};
