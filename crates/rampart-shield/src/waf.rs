//! The WAF stage: `rampart-waf`'s SecLang engine (running the OWASP CRS or any rule set) as a
//! pipeline stage, SecLang phases 1–5 mapped onto the pipeline's phases.
//!
//! | pipeline phase | SecLang |
//! |---|---|
//! | request headers | phase 1 (`process_request_headers`) |
//! | request body (always run, empty bodies too) | phase 2 (`process_request_body`) |
//! | response headers | phase 3 |
//! | response body (when `inspect_response_body`) | phase 4 |
//! | logging | phase 5 |
//!
//! The transaction lives in the request's extensions between phases. Enforcement follows the
//! stage's mode: in detect mode the engine still runs and its interventions are recorded by the
//! pipeline without being enforced (so the log shows what would have been blocked). The stage
//! fails closed by default: a WAF that cannot decide must not wave an attack through.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rampart_core::{OnError, RequestContext, ResponseFacts, Stage, StageError, StageMode, Verdict};
use rampart_waf::{Engine, Intervention, LoadError, Transaction};

/// How the WAF stage is built.
#[derive(Debug, Clone)]
pub struct WafSettings {
    /// SecLang files, loaded in order (CRS: `crs-setup.conf` first, then `rules/*.conf`).
    pub rule_files: Vec<PathBuf>,
    /// SecLang text loaded after the files (rules built into the binary).
    pub rule_text: Option<String>,
    /// Directives applied before the rule files (engine switches, body limits).
    pub prelude: String,
    /// CRS blocking paranoia level (1–4), set through `tx.blocking_paranoia_level` before the
    /// rules run; `None` leaves the rule set's own setting.
    pub paranoia: Option<u8>,
    /// Run phase 4 on response bodies. Default false (costs buffering every response).
    pub inspect_response_body: bool,
    /// Load past rules the engine refuses (PCRE-only patterns, network look-ups), keeping the
    /// rest and listing the refusals in [`Waf::refused`]. Default false: a rule set loads whole
    /// or not at all. Used for rule sets written for PCRE (Debian's CRS 3.3).
    pub skip_refused_rules: bool,
    pub mode: StageMode,
    pub on_error: OnError,
}

/// The SecLang engine as a stage.
pub struct Waf {
    engine: Arc<Engine>,
    settings: WafSettings,
    refused: Vec<String>,
}

/// The per-request transaction, kept in [`RequestContext::extensions`].
#[derive(Clone)]
struct WafTransaction(Arc<Mutex<Transaction>>);

/// The id of the `SecAction` that sets the paranoia level: outside CRS's reserved ranges.
const PARANOIA_RULE_ID: u64 = 8_999_001;

impl Waf {
    /// Compile the rule set. Every load error carries file:line:column.
    pub fn load(settings: WafSettings) -> Result<Waf, LoadError> {
        let mut builder = rampart_waf::Builder::new();
        let mut prelude = String::from("SecRuleEngine On\nSecRequestBodyAccess On\n");
        prelude.push_str(&settings.prelude);
        prelude.push('\n');
        builder.load_str(&prelude, None)?;
        if let Some(pl) = settings.paranoia {
            let set = format!(
                "SecAction \"id:{PARANOIA_RULE_ID},phase:1,pass,nolog,t:none,setvar:tx.blocking_paranoia_level={pl},setvar:tx.detection_paranoia_level={pl}\"\n"
            );
            builder.load_str(&set, None)?;
        }
        let mut refused = Vec::new();
        for file in &settings.rule_files {
            if settings.skip_refused_rules {
                refused.extend(builder.load_file_collect(file).into_iter().map(|e| e.to_string()));
            } else {
                builder.load_file(file)?;
            }
        }
        if let Some(text) = &settings.rule_text {
            builder.load_str(text, None)?;
        }
        let engine = Arc::new(builder.build()?);
        Ok(Waf { engine, settings, refused })
    }

    /// Wrap an engine compiled elsewhere (the CRS regression runner builds one configured as
    /// CRS's CI does). Only `mode`, `on_error` and `inspect_response_body` of `settings`
    /// apply: the rule-loading fields are ignored, and the engine keeps its own `SecRuleEngine`.
    pub fn from_engine(engine: Arc<Engine>, settings: WafSettings) -> Waf {
        Waf { engine, settings, refused: Vec::new() }
    }

    /// The load errors of rules left out under [`WafSettings::skip_refused_rules`], each with
    /// its file:line:column and reason.
    pub fn refused(&self) -> &[String] {
        &self.refused
    }

    /// Rules loaded (a chain counts once).
    pub fn rule_count(&self) -> usize {
        self.engine.rule_count()
    }

    fn transaction(&self, ctx: &RequestContext) -> Result<WafTransaction, StageError> {
        ctx.extensions
            .get::<WafTransaction>()
            .cloned()
            .ok_or_else(|| StageError::new("waf", "no transaction: request headers phase did not run"))
    }
}

fn verdict(intervention: Option<Intervention>) -> Verdict {
    match intervention {
        None => Verdict::Continue,
        Some(i) => {
            // `redirect` is answered as a block: a shield does not send attackers elsewhere.
            let status = if (400..600).contains(&i.status) { i.status } else { 403 };
            Verdict::Block { status, reason: format!("waf rule {}", i.rule_id).into() }
        }
    }
}

fn lock(tx: &WafTransaction) -> Result<std::sync::MutexGuard<'_, Transaction>, StageError> {
    tx.0.lock().map_err(|_| StageError::new("waf", "transaction lock poisoned"))
}

/// How many of the transaction's matched rules [`tag_matches`] has looked at.
#[derive(Clone, Copy)]
struct TaggedUpTo(usize);

/// Tag the request with the rules that matched since the last phase and that count: rules
/// that log or would interrupt. The CRS's `nolog` bookkeeping rules (initialisation, paranoia
/// skips: most matches of a clean request) are left out of the log and the audit trail.
fn tag_matches(ctx: &mut RequestContext, tx: &Transaction) {
    let seen = ctx.extensions.get::<TaggedUpTo>().map_or(0, |t| t.0);
    let matched = tx.matched_rules();
    let new: Vec<String> =
        matched.iter().skip(seen).filter(|r| r.log || r.disruptive).map(|r| r.id.to_string()).collect();
    ctx.extensions.insert(TaggedUpTo(matched.len()));
    for id in new {
        ctx.tag("waf.rule", id);
    }
}

impl Stage for Waf {
    fn name(&self) -> &'static str {
        "waf"
    }

    fn mode(&self) -> StageMode {
        self.settings.mode
    }

    fn on_error(&self) -> OnError {
        self.settings.on_error
    }

    fn wants_request_body(&self) -> bool {
        true
    }

    fn wants_response_body(&self) -> bool {
        self.settings.inspect_response_body
    }

    fn on_request_headers(&self, ctx: &mut RequestContext) -> Result<Verdict, StageError> {
        let mut tx = self.engine.transaction();
        tx.set_unique_id(&ctx.id.0);
        tx.process_connection(&ctx.client.to_string(), ctx.peer.port(), &ctx.local.ip().to_string(), ctx.local.port());
        let target = ctx.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let protocol = match ctx.version {
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        };
        tx.process_uri(target, ctx.method.as_str(), protocol);
        for (name, value) in ctx.headers.iter() {
            tx.add_request_header(name.as_str(), value.as_bytes());
        }
        if !ctx.headers.contains_key(http::header::HOST) {
            if let Some(host) = &ctx.host {
                tx.add_request_header("host", host.as_bytes());
            }
        }
        let v = verdict(tx.process_request_headers());
        tag_matches(ctx, &tx);
        ctx.extensions.insert(WafTransaction(Arc::new(Mutex::new(tx))));
        Ok(v)
    }

    fn on_request_body(&self, ctx: &mut RequestContext, body: &[u8]) -> Result<Verdict, StageError> {
        let handle = self.transaction(ctx)?;
        let mut tx = lock(&handle)?;
        if !body.is_empty() {
            if let Some(i) = tx.append_request_body(body) {
                return Ok(verdict(Some(i)));
            }
        }
        let v = verdict(tx.process_request_body());
        tag_matches(ctx, &tx);
        Ok(v)
    }

    fn on_response_headers(&self, ctx: &mut RequestContext, resp: &ResponseFacts) -> Result<Verdict, StageError> {
        let handle = self.transaction(ctx)?;
        let mut tx = lock(&handle)?;
        for (name, value) in resp.headers.iter() {
            tx.add_response_header(name.as_str(), value.as_bytes());
        }
        let v = verdict(tx.process_response_headers(resp.status.as_u16(), "HTTP/1.1"));
        tag_matches(ctx, &tx);
        Ok(v)
    }

    fn on_response_body(&self, ctx: &mut RequestContext, _resp: &ResponseFacts, body: &[u8]) -> Result<Verdict, StageError> {
        let handle = self.transaction(ctx)?;
        let mut tx = lock(&handle)?;
        if let Some(i) = tx.append_response_body(body) {
            return Ok(verdict(Some(i)));
        }
        let v = verdict(tx.process_response_body());
        tag_matches(ctx, &tx);
        Ok(v)
    }

    fn on_logging(&self, ctx: &RequestContext, _resp: Option<&ResponseFacts>) {
        let Some(handle) = ctx.extensions.get::<WafTransaction>() else { return };
        let Ok(mut tx) = handle.0.lock() else { return };
        tx.process_logging();
        for rule in tx.matched_rules().iter().filter(|r| r.log) {
            tracing::info!(
                target: "rampart::waf",
                request_id = %ctx.id,
                client = %ctx.client,
                rule = rule.id,
                phase = rule.phase,
                severity = rule.severity,
                msg = %rule.msg,
                data = %rule.data,
                "waf rule matched"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn waf(rules: &str, mode: StageMode) -> Waf {
        Waf::load(WafSettings {
            rule_files: Vec::new(),
            rule_text: Some(rules.to_string()),
            prelude: String::new(),
            paranoia: None,
            inspect_response_body: false,
            skip_refused_rules: false,
            mode,
            on_error: OnError::Closed,
        })
        .unwrap()
    }

    const RULES: &str = r#"
SecDefaultAction "phase:1,log,deny,status:403"
SecDefaultAction "phase:2,log,deny,status:403"
SecRule REQUEST_HEADERS:User-Agent "@pm sqlmap" "id:1,phase:1,block,t:lowercase,msg:'tool'"
SecRule ARGS "@detectSQLi" "id:2,phase:2,block,msg:'sqli'"
"#;

    fn ctx(uri: &str, ua: &str) -> RequestContext {
        let mut c = RequestContext::for_test(Method::GET, uri, "192.0.2.1".parse().unwrap());
        c.headers.insert("user-agent", ua.parse().unwrap());
        c.headers.insert("host", "example.org".parse().unwrap());
        c
    }

    #[test]
    fn phase_one_rule_blocks_at_request_headers() {
        let w = waf(RULES, StageMode::Enforce);
        let mut c = ctx("/", "sqlmap/1.7");
        assert!(matches!(w.on_request_headers(&mut c).unwrap(), Verdict::Block { status: 403, .. }));
        assert!(c.tags.iter().any(|t| t.key == "waf.rule" && t.value == "1"));
    }

    #[test]
    fn phase_two_rule_blocks_at_request_body_even_without_a_body() {
        let w = waf(RULES, StageMode::Enforce);
        let mut c = ctx("/search?q=1%27%20or%201=1--", "curl/8");
        assert_eq!(w.on_request_headers(&mut c).unwrap(), Verdict::Continue);
        assert!(matches!(w.on_request_body(&mut c, b"").unwrap(), Verdict::Block { status: 403, .. }));
        let mut clean = ctx("/search?q=smith", "curl/8");
        assert_eq!(w.on_request_headers(&mut clean).unwrap(), Verdict::Continue);
        assert_eq!(w.on_request_body(&mut clean, b"").unwrap(), Verdict::Continue);
    }

    #[test]
    fn body_phase_without_headers_phase_is_a_stage_error() {
        let w = waf(RULES, StageMode::Enforce);
        let mut c = ctx("/", "x");
        assert!(w.on_request_body(&mut c, b"").is_err());
    }
}
