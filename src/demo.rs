//! `rampart demo` and `rampart testbed`: the shield in front of the built-in testbed app, with
//! the embedded example configuration and nothing to install.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rampart_shield::{Waf, WafSettings};
use rampart_testbed::TestbedOptions;
use tokio::net::TcpListener;

use crate::admin::ConfigSource;
use crate::cli::{DemoArgs, TestbedArgs};
use crate::run::AdminSettings;
use crate::wiring::{LoadErrors, Plan};

/// `examples/demo.toml`, built into the binary so that `rampart demo` needs no file.
pub const DEMO_CONFIG: &str = include_str!("../examples/demo.toml");

const ADMIN_ADDRESS: &str = "127.0.0.1:9090";

/// The demo's audit log and signing key, as `examples/demo.toml` names them: the key is made on
/// first run, before the configuration (which checks that it is readable) is read.
const DEMO_AUDIT_DIR: &str = "/tmp/rampart-demo/audit";
const DEMO_AUDIT_KEY: &str = "/tmp/rampart-demo/audit.key";

/// The project's own baseline rules, for when no OWASP CRS is installed.
pub const BASELINE_RULES: &str = include_str!("../rules/baseline.conf");

/// Where Debian's `modsecurity-crs` package puts the CRS.
const DEBIAN_CRS_SETUP: &str = "/etc/modsecurity/crs/crs-setup.conf";
const DEBIAN_CRS_RULES: &str = "/usr/share/modsecurity-crs/rules";

/// Parse and build the embedded configuration, with a WAF: the configured one, else the CRS
/// when Debian's package is installed, else the baseline rules.
pub fn embedded_plan(text: &str) -> Result<Plan, LoadErrors> {
    let config = rampart_config::parse(text, Path::new("examples/demo.toml")).map_err(LoadErrors::Config)?;
    let mut plan = crate::wiring::from_config(config)?;
    if plan.config.waf.is_none() {
        let (stage, which) = demo_waf().map_err(|e| LoadErrors::Build(vec![e]))?;
        plan.notes.push(format!("WAF: {which}, {} rules", stage.rule_count()));
        plan.stages.push(Arc::new(stage));
    }
    Ok(plan)
}

fn demo_waf() -> Result<(Waf, String), String> {
    let settings = |files: Vec<PathBuf>, paranoia, skip_refused_rules| WafSettings {
        rule_files: files,
        rule_text: None,
        prelude: String::new(),
        paranoia,
        inspect_response_body: false,
        skip_refused_rules,
        mode: rampart_core::StageMode::Enforce,
        on_error: rampart_core::OnError::Closed,
    };
    let rules = Path::new(DEBIAN_CRS_RULES);
    let mut why_not = "no OWASP CRS installed".to_string();
    if Path::new(DEBIAN_CRS_SETUP).is_file() && rules.is_dir() {
        let mut files = vec![PathBuf::from(DEBIAN_CRS_SETUP)];
        let mut conf: Vec<PathBuf> = std::fs::read_dir(rules)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "conf")).collect())
            .unwrap_or_default();
        conf.sort();
        files.extend(conf);
        // Debian ships CRS 3.3, written for PCRE: a few of its patterns use lookaround,
        // backreferences or possessive quantifiers, which a linear-time engine refuses. The
        // demo runs the rest and says how many were left out (`rampart check-config` on a
        // [waf] section with the same files lists each one).
        match Waf::load(settings(files, Some(1), true)) {
            Ok(w) if w.rule_count() > 0 => {
                let which = format!(
                    "OWASP CRS from {DEBIAN_CRS_RULES} (paranoia 1; {} rule(s) refused: PCRE-only regex syntax or network look-ups)",
                    w.refused().len()
                );
                return Ok((w, which));
            }
            Ok(_) => why_not = format!("the CRS in {DEBIAN_CRS_RULES} yielded no rule"),
            Err(e) => why_not = format!("the CRS in {DEBIAN_CRS_RULES} did not load: {e}"),
        }
    }
    let baseline = WafSettings { rule_text: Some(BASELINE_RULES.to_string()), ..settings(Vec::new(), None, false) };
    let waf = Waf::load(baseline).map_err(|e| format!("baseline rules: {e}"))?;
    Ok((waf, format!("Rampart baseline rules, rules/baseline.conf ({why_not})")))
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let made_key = match &args.config {
        Some(_) => false,
        None => crate::audit::ensure_key(Path::new(DEMO_AUDIT_KEY), Path::new(DEMO_AUDIT_DIR), "rampart-demo")?,
    };
    let (plan, source) = match &args.config {
        Some(path) => (crate::wiring::load(path), ConfigSource::File(path.clone())),
        None => (embedded_plan(DEMO_CONFIG), ConfigSource::Embedded(DEMO_CONFIG)),
    };
    let plan = plan.map_err(|e| anyhow::anyhow!("configuration refused:\n{e}"))?;
    crate::logging::init(&plan.config.log)?;

    // The testbed goes where the configuration's first upstream expects it.
    let upstream = plan.config.upstreams.first().context("the demo configuration names no upstream")?;
    let server = upstream.servers.first().context("the demo upstream has no server")?;
    let testbed_addr: SocketAddr = (server.host.as_str(), server.port)
        .to_socket_addrs()?
        .next()
        .context("the demo upstream's address does not resolve")?;
    let testbed_listener = TcpListener::bind(testbed_addr)
        .await
        .with_context(|| format!("cannot start the testbed on {testbed_addr} (is something else using it?)"))?;
    let (testbed_stop, testbed_stopped) = tokio::sync::oneshot::channel::<()>();
    let testbed = tokio::spawn(rampart_testbed::serve(testbed_listener, TestbedOptions::default(), async move {
        let _ = testbed_stopped.await;
    }));

    let token = format!("{:032x}", rand_token());
    let admin = AdminSettings { address: ADMIN_ADDRESS.parse()?, token: Some(token.clone()) };
    let stages = plan.stage_names().join(", ");
    let incidents = plan.config.incident.as_ref().map(|i| i.dir.display().to_string());
    let notes = plan.notes.clone();
    let audit = plan.config.audit.as_ref().map(|a| (a.dir.display().to_string(), a.signing_key.display().to_string()));
    let (started, wait) = crate::run::start(plan, source, Some(admin)).await?;
    let shield = started.proxy_addrs.first().copied().context("no listener")?;
    let admin_addr = started.admin_addr.context("no admin listener")?;
    println!();
    println!("  Rampart demo");
    println!("  shield    http://{shield}/        (the testbed app behind Rampart)");
    println!("  testbed   http://{testbed_addr}/   (the app directly, for comparison)");
    println!("  login     {} / {}", rampart_testbed::DEMO_USERNAME, rampart_testbed::DEMO_PASSWORD);
    println!("  admin     http://{admin_addr}/metrics  /healthz  /readyz");
    println!("  admin API curl -H 'Authorization: Bearer {token}' http://{admin_addr}/api/status");
    println!("  stages    {stages}");
    if let Some(dir) = &incidents {
        println!("  incidents {dir}   (rampart incidents --dir {dir}; rampart report latest --dir {dir} --format html --out report.html)");
    }
    if let Some((dir, key)) = &audit {
        let made = if made_key { ", made now" } else { "" };
        println!("  audit     {dir}   (signing key {key}{made})");
        println!("            verify: rampart audit verify {dir} --key {key}.pub");
        println!("            assess: rampart audit assess --dir {dir} --key {key}.pub --from -1h");
    }
    for note in &notes {
        println!("  {note}");
    }
    println!("  Ctrl-C to stop.");
    println!();
    let result = wait.await;
    let _ = testbed_stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), testbed).await;
    result
}

fn rand_token() -> u128 {
    // The standard library's hasher seeds itself from the OS's randomness: enough for a
    // throw-away demo token without another dependency in the binary.
    use std::hash::{BuildHasher, Hasher};
    let a = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(a);
    ((a as u128) << 64) | h.finish() as u128
}

pub async fn testbed(args: TestbedArgs) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt().json().try_init();
    let opts = TestbedOptions {
        contacts: args.contacts,
        vulnerable: args.vulnerable,
        require_login: !args.open,
        max_concurrent: args.max_concurrent,
        work_delay: args.work_ms.map(Duration::from_millis),
        ..TestbedOptions::default()
    };
    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("testbed listening on http://{}/", listener.local_addr()?);
    rampart_testbed::serve(listener, opts, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_names_the_audit_paths_the_demo_makes() {
        assert!(DEMO_CONFIG.contains(&format!("dir = \"{DEMO_AUDIT_DIR}\"")));
        assert!(DEMO_CONFIG.contains(&format!("signing_key = \"{DEMO_AUDIT_KEY}\"")));
        assert!(!Path::new(DEMO_AUDIT_KEY).starts_with(DEMO_AUDIT_DIR), "the key must be outside the log");
    }
}
