//! [`AccessList`]: allow and deny by client address, from inline prefixes and list files.
//!
//! ```toml
//! [access]
//! deny = ["192.0.2.0/24"]
//! deny_files = ["/etc/rampart/spamhaus-drop.txt"]
//! allow = ["198.51.100.0/24"]        # always let in, skip every other stage
//! ```
//!
//! Runs in the connection phase (on the socket peer, or the PROXY-protocol address) and
//! again in the request-header phase (on the client after trusted-proxy resolution). Allow
//! wins over deny: an allowed address gets [`Verdict::Allow`], a denied one `Block{403}`.
//! [`AccessList::reload`] re-reads the files and swaps the lists in one step; if any file
//! fails, the running lists stay as they were.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ipnet::IpNet;
use parking_lot::RwLock;
use rampart_core::{ConnectionInfo, OnError, RequestContext, Stage, StageError, StageMode, Verdict};

use crate::cidr_set::CidrSet;
use crate::list_file::{read_list, ListFileError};

/// How an [`AccessList`] is built, from validated configuration.
#[derive(Debug, Clone)]
pub struct AccessListSettings {
    /// Prefixes always let in. Default none.
    pub allow: Vec<IpNet>,
    /// Prefixes always refused. Default none.
    pub deny: Vec<IpNet>,
    /// List files (plain CIDR, Spamhaus DROP or FireHOL netset) adding to `allow`.
    pub allow_files: Vec<PathBuf>,
    /// List files adding to `deny`.
    pub deny_files: Vec<PathBuf>,
    /// Default: enforce.
    pub mode: StageMode,
    /// Default: open (the lists are in memory; nothing fails at request time).
    pub on_error: OnError,
}

impl Default for AccessListSettings {
    fn default() -> Self {
        AccessListSettings {
            allow: Vec::new(),
            deny: Vec::new(),
            allow_files: Vec::new(),
            deny_files: Vec::new(),
            mode: StageMode::Enforce,
            on_error: OnError::Open,
        }
    }
}

/// Every list file that could not be used, each with its file (and line).
#[derive(Debug, thiserror::Error)]
#[error("access list not loaded: {}", .errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
pub struct AccessListError {
    pub errors: Vec<ListFileError>,
}

/// Allow and deny sets as loaded at one moment.
#[derive(Debug, Default)]
struct Lists {
    allow: CidrSet,
    deny: CidrSet,
}

/// The allow/deny stage.
pub struct AccessList {
    settings: AccessListSettings,
    // Readers hold the lock only for a lookup; `reload` builds the new lists outside it and
    // takes the write lock just to swap the pointer.
    lists: RwLock<Arc<Lists>>,
}

impl AccessList {
    /// Read every list file; refuses (naming every bad file and line) if any fails.
    pub fn new(settings: AccessListSettings) -> Result<AccessList, AccessListError> {
        let lists = load(&settings)?;
        Ok(AccessList { settings, lists: RwLock::new(Arc::new(lists)) })
    }

    /// Re-read the list files and swap them in. On error the running lists stay.
    pub fn reload(&self) -> Result<(), AccessListError> {
        let fresh = load(&self.settings)?;
        tracing::info!(allow = fresh.allow.ranges(), deny = fresh.deny.ranges(), "access lists reloaded");
        *self.lists.write() = Arc::new(fresh);
        Ok(())
    }

    /// The verdict for `client`: `Allow`, `Block{403}` or `Continue`.
    pub fn decide(&self, client: IpAddr) -> Verdict {
        let lists = self.lists.read();
        if lists.allow.contains(client) {
            Verdict::Allow
        } else if lists.deny.contains(client) {
            Verdict::forbidden("address on deny list")
        } else {
            Verdict::Continue
        }
    }
}

fn load(settings: &AccessListSettings) -> Result<Lists, AccessListError> {
    let mut errors = Vec::new();
    let mut read_all = |inline: &[IpNet], files: &[PathBuf]| {
        let mut nets = inline.to_vec();
        for file in files {
            match read_list(file) {
                Ok(more) => nets.extend(more),
                Err(errs) => errors.extend(errs),
            }
        }
        CidrSet::new(nets)
    };
    let allow = read_all(&settings.allow, &settings.allow_files);
    let deny = read_all(&settings.deny, &settings.deny_files);
    if errors.is_empty() {
        Ok(Lists { allow, deny })
    } else {
        Err(AccessListError { errors })
    }
}

impl Stage for AccessList {
    fn name(&self) -> &'static str {
        "access"
    }

    fn mode(&self) -> StageMode {
        self.settings.mode
    }

    fn on_error(&self) -> OnError {
        self.settings.on_error
    }

    fn reads_request_headers_late(&self) -> bool {
        false
    }

    fn on_connection(&self, conn: &ConnectionInfo) -> Result<Verdict, StageError> {
        Ok(self.decide(conn.client))
    }

    fn on_request_headers(&self, ctx: &mut RequestContext) -> Result<Verdict, StageError> {
        Ok(self.decide(ctx.client))
    }
}

#[cfg(test)]
mod tests;
