//! From [`RawConfig`] to [`Config`]: every section checked, every error recorded.
//!
//! Sections are validated in dependency order — upstreams before routes, routes and
//! priorities before the stages that refer to them — and a failing value never stops the
//! rest: each check records its error and goes on with a default, so one run reports
//! everything. Cross-references into a section that could not be read completely are skipped
//! (the section's own error already explains it).

mod access;
mod drill;
mod exfiltration;
mod flood;
mod incident;
mod limits;
mod ops;
mod rate_limit;
mod server;
mod upstream;
mod values;
mod waf;

pub use flood::{DEFAULT_PER_CLIENT, DEFAULT_PER_USERNAME};

use rampart_core::StageMode;

use crate::context::Ctx;
use crate::model::Config;
use crate::raw::RawConfig;

/// Check `raw`; `None` when any error was recorded (they are in `ctx`).
pub(crate) fn validate(ctx: &mut Ctx<'_>, raw: RawConfig) -> Option<Config> {
    let complete = |name: &str| !raw.incomplete.contains(name);
    let mode = values::choice(
        ctx,
        "mode",
        &raw.mode,
        &[("enforce", StageMode::Enforce), ("detect", StageMode::Detect)],
        StageMode::Enforce,
    );
    let server = server::server(ctx, raw.server.as_ref());
    let listeners = server::listeners(ctx, &raw.listeners, complete("listener"));
    let limits = limits::limits(ctx, raw.limits.as_ref());
    let upstreams = upstream::upstreams(ctx, &raw.upstreams);
    let routes = upstream::routes(ctx, &raw.routes, &upstreams, complete("upstream"), complete("route"));
    let priorities = access::priorities(ctx, &raw.priorities);
    let access = access::access(ctx, raw.access.as_ref(), mode);
    let rate_limits = rate_limit::rate_limits(ctx, &raw.rate_limits, &routes, complete("route"), mode);
    let flood = flood::flood(ctx, raw.flood.as_ref(), mode);
    let logins = flood::logins(ctx, &raw.logins, mode);
    let known = exfiltration::Known {
        routes: complete("route").then_some(routes.as_slice()),
        priorities: complete("priority").then_some(priorities.as_slice()),
    };
    let exfiltration = exfiltration::exfiltration(ctx, &raw.exfiltration, &known, mode);
    let waf = waf::waf(ctx, raw.waf.as_ref(), mode);
    let state = ops::state(ctx, raw.state.as_ref());
    let audit = ops::audit(ctx, raw.audit.as_ref());
    let incident = incident::incident(ctx, raw.incident.as_ref());
    let listener_addrs: Vec<_> = listeners.iter().map(|l| l.address).collect();
    let admin = ops::admin(ctx, raw.admin.as_ref(), &listener_addrs);
    let log = ops::log(ctx, raw.log.as_ref());
    let drill = drill::drill(ctx, raw.drill.as_ref());
    if ctx.has_errors() {
        return None;
    }
    Some(Config {
        source: Default::default(),
        mode,
        server,
        listeners,
        limits,
        upstreams,
        routes,
        priorities,
        access,
        rate_limits,
        flood,
        logins,
        exfiltration,
        waf,
        state,
        audit,
        incident,
        admin,
        log,
        drill,
    })
}
