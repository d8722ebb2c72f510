//! Rampart's defensive stages, each a [`rampart_core::Stage`], one per file.
//!
//! # Layout
//!
//! * [`AccessList`] (`access_list`): allow/deny by CIDR from inline lists and list files
//!   ([`list_file`]: plain, Spamhaus DROP, FireHOL netset), looked up in a [`CidrSet`].
//! * [`RateLimit`] (`rate_limit`): per-key limits (client, prefix, route, header, cookie)
//!   over bounded sketches from `rampart-state`, with escalation into the shared ban list.
//! * [`Bans`] (`bans`): refuses clients on the shared [`rampart_state::BanList`].
//! * [`LoginGuard`] (`login*`): credential stuffing, spraying and account takeover against a
//!   login endpoint; user names only as keyed hashes ([`UsernameKey`]).
//! * [`ExfiltrationGuard`] (`exfil*`): per-identity data budgets, id-walk detection and
//!   never-leave patterns on sensitive routes.
//! * [`Waf`] (`waf`): the SecLang engine of `rampart-waf` (the OWASP CRS) as a stage.
//!
//! Stages are built by the binary from validated configuration through public settings
//! structs ([`AccessListSettings`], [`RateLimitSettings`], [`BansSettings`]), and read time
//! through a [`rampart_state::Clock`] so that tests drive it by hand.

pub mod access_list;
pub mod bans;
pub mod challenge;
pub mod challenge_page;
pub mod cidr_set;
pub mod clearance;
pub mod flood;
pub mod exfil;
pub mod exfil_records;
pub mod exfil_settings;
pub mod exfil_walk;
pub mod list_file;
pub mod login;
pub mod login_body;
pub mod login_key;
pub mod login_settings;
pub mod login_state;
pub mod mitigation;
pub mod priority;
pub mod rate_key;
pub mod rate_limit;
pub mod rate_limit_settings;
pub mod waf;

pub use access_list::{AccessList, AccessListError, AccessListSettings};
pub use bans::{Bans, BansSettings};
pub use challenge::{ChallengeGate, ChallengeSettings, ClearanceStage, Difficulty};
pub use cidr_set::CidrSet;
pub use clearance::Keys;
pub use flood::{Flood, FloodSettings, FloodStatus, Sensitivity};
pub use exfil::ExfiltrationGuard;
pub use exfil_settings::{EnumerationSettings, ExfilAction, ExfilBudget, ExfilSettings, IdentitySource, RecordCount};
pub use list_file::{parse_list, read_list, ListFileError};
pub use login::LoginGuard;
pub use login_key::{UserTag, UsernameKey};
pub use login_settings::{DetectSettings, FailureSignal, LoginSettings, STAFF_FACTOR};
pub use mitigation::{Mitigation, Mode, Pin};
pub use priority::{Marker, PriorityRule, PriorityStage};
pub use rate_key::{RateKey, RateKeyError};
pub use rate_limit::RateLimit;
pub use rate_limit_settings::{BanPolicy, LimitAction, LimitActionError, RateLimitSettings, RouteScope};
pub use waf::{Waf, WafSettings};
