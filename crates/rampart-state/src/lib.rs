//! Rampart's bounded state: what the shield remembers about clients, in memory that is fixed
//! when the configuration is loaded and does not grow however many clients arrive.
//!
//! # Layout
//!
//! * [`KeyHash`] (`hash`): every key is hashed with a per-process random seed, so that
//!   attackers cannot aim collisions at a victim's counters.
//! * [`CountMinSketch`] (`sketch`): approximate per-key counts, lock-free atomics,
//!   `depth × width` sized from a byte budget ([`SketchShape`]).
//! * [`SlidingWindow`] (`window`): per-key counts over a sliding window from two sketch slots
//!   (current + previous, weighted by the elapsed fraction), after Pingora's estimator.
//! * [`GcraSketch`] (`gcra`): per-key rate + burst limits (GCRA timestamps in a sketch).
//! * [`TopK`] (`topk`): space-saving heavy hitters, fixed capacity, for reports and bans.
//! * [`RateLimiter`] (`limiter`): one rate limit's state — the three above under one ceiling.
//! * [`BanList`] (`banlist`): addresses and prefixes refused until a deadline, capped.
//! * [`MemoryBudget`] (`budget`): shares `memory_ceiling` out and refuses what cannot fit.
//! * [`Clock`] (`clock`): time is a parameter, so tests move it by hand instead of sleeping.
//!
//! Every structure reports `memory_bytes()`. This is the in-process (`memory`) backend; a
//! Redis backend will sit behind the same types, counting locally and reconciling in the
//! background, so the request path never waits on the network.

pub mod banlist;
pub mod budget;
pub mod clock;
pub mod gcra;
pub mod hash;
pub mod label;
pub mod limiter;
pub mod shape;
pub mod sketch;
pub mod topk;
pub mod window;

pub use banlist::{Ban, BanList, BanOutcome};
pub use budget::{BudgetError, Demand, MemoryBudget};
pub use clock::{Clock, ManualClock, SystemClock};
pub use gcra::GcraSketch;
pub use hash::KeyHash;
pub use label::{KeyLabel, LABEL_BYTES};
pub use limiter::{LimitDecision, LimiterSettings, RateLimiter};
pub use shape::{SketchShape, DEFAULT_DEPTH, MIN_WIDTH};
pub use sketch::CountMinSketch;
pub use topk::{HeavyHitter, TopK};
pub use window::{SlidingWindow, WindowCount};
