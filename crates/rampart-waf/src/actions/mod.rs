//! Actions: the disruptive ones (`deny`, `block`, `allow`, …) as [`Disruptive`], and the ones
//! that change the transaction when a rule matches (`setvar`, `ctl`, `initcol`, …) as [`Action`].
//! Flow (`chain`, `skip`, `skipAfter`) and metadata are fields of [`crate::rule::Rule`].
//! One file per action family; each parses its value at load and runs against a transaction.

pub mod ctl;
pub mod disruptive;
pub mod setvar;
pub mod storage;

pub use ctl::Ctl;
pub use disruptive::{AllowScope, Disruptive};
pub use setvar::{SetVar, SetVarOp};
pub use storage::{ExpireVar, InitCol, SetEnv};

/// A non-disruptive action run when its rule matches.
#[derive(Debug, Clone)]
pub enum Action {
    /// `setvar:tx.x=+1`.
    SetVar(SetVar),
    /// `ctl:…`: change the transaction's configuration.
    Ctl(Ctl),
    /// `initcol:ip=%{REMOTE_ADDR}` (also `setuid` / `setsid`, which initialise `USER` / `SESSION`).
    InitCol(InitCol),
    /// `setenv:name=value`.
    SetEnv(SetEnv),
    /// `expirevar:ip.blocked=600`: the variable disappears after that many seconds.
    ExpireVar(ExpireVar),
}
