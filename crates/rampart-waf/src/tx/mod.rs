//! [`Transaction`]: one request/response exchange run through an [`Engine`], phase by phase,
//! in the order a proxy learns things (Coraza's API): connection, URI, request headers,
//! request body, response headers, response body, logging.
//!
//! Each `process_*` call runs its phase and returns the [`Intervention`] if the transaction is
//! (or already was) interrupted. In `DetectionOnly` mode rules run and are recorded in
//! [`Transaction::matched_rules`] but nothing is interrupted.

mod body;
mod buffers;
mod cache;
pub mod data;
mod eval;
pub(crate) mod literal_skip;
pub mod expand;
pub mod outcome;
pub mod request;
mod run_actions;
pub(crate) mod spare;
mod state;
pub mod tx_names;
pub mod tx_vars;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use outcome::{Intervention, MatchedRule, MatchedValue};

use crate::config::{BodyProcessorKind, EngineMode};
use crate::engine::Engine;
use data::TxData;
use state::TxState;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One HTTP exchange under inspection.
pub struct Transaction {
    engine: Arc<Engine>,
    pub(crate) data: TxData,
    pub(crate) state: TxState,
    pub(crate) cache: cache::TransformCache,
    /// Spare allocation for the values a rule link matched (always empty between links).
    hits: Vec<eval::Hit>,
    /// Recycled buffers for matched values' names, values and lists.
    buffers: buffers::Buffers,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction").field("unique_id", &self.data.unique_id).field("state", &self.state).finish()
    }
}

impl Transaction {
    /// Start a transaction (usually through [`Engine::transaction`]).
    pub fn new(engine: Arc<Engine>) -> Transaction {
        let mut state = TxState::new(&engine.config);
        let spare = engine.spares.take();
        state.matched_rules = spare.matched_rules;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
        let data = TxData {
            unique_id: format!("{:x}{:06x}", now, NEXT_ID.fetch_add(1, Ordering::Relaxed) & 0xff_ffff),
            web_app_id: engine.config.web_app_id.clone(),
            started: Some(std::time::Instant::now()),
            rule_texts: engine.texts.clone(),
            tx: spare.tx,
            ..TxData::default()
        };
        Transaction { engine, data, state, cache: spare.cache, hits: spare.hits, buffers: spare.buffers }
    }

    /// Override the generated `UNIQUE_ID` (e.g. with the proxy's request id).
    pub fn set_unique_id(&mut self, id: &str) {
        self.data.unique_id = id.to_string();
    }

    /// Record the connection's addresses (`REMOTE_ADDR`, `SERVER_PORT`, …). Runs no rules.
    pub fn process_connection(&mut self, client_ip: &str, client_port: u16, server_ip: &str, server_port: u16) {
        self.data.remote_addr = client_ip.to_string();
        self.data.remote_port = client_port;
        self.data.server_addr = server_ip.to_string();
        self.data.server_port = server_port;
    }

    /// Record the request line: fills `REQUEST_URI`, `REQUEST_FILENAME`, `QUERY_STRING`,
    /// `ARGS_GET`, … Runs no rules.
    pub fn process_uri(&mut self, uri: &str, method: &str, protocol: &str) {
        let raw = uri.as_bytes();
        let (rel, path, query) = request::split_uri(raw);
        self.data.uri_raw = raw.to_vec();
        self.data.uri = rel.to_vec();
        self.data.method = method.as_bytes().to_vec();
        self.data.protocol = protocol.as_bytes().to_vec();
        self.data.request_line = format!("{method} {uri} {protocol}").into_bytes();
        self.data.query_string = query.to_vec();
        let filename = request::percent_decode(path);
        let basename = match filename.iter().rposition(|c| *c == b'/') {
            Some(p) => filename[p + 1..].to_vec(),
            None => filename.clone(),
        };
        self.data.path_info = filename.clone();
        self.data.filename = filename;
        self.data.basename = basename;
        let cfg = &self.engine.config;
        let invalid = request::parse_query(query, cfg.argument_separator, cfg.arguments_limit, &mut self.data.args_get);
        self.data.urlencoded_error |= invalid & 1 != 0;
    }

    /// Add a request header (repeat for repeated headers).
    pub fn add_request_header(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.data.request_headers.add(name, value.as_ref());
    }

    /// Run phase 1 (request headers).
    pub fn process_request_headers(&mut self) -> Option<Intervention> {
        let cookies: Vec<Vec<u8>> = self
            .data
            .request_headers
            .entries
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
            .map(|(_, v)| v.clone())
            .collect();
        for c in cookies {
            request::parse_cookies(&c, &mut self.data.request_cookies);
        }
        let content_type = self.data.request_headers.get("content-type").map(|c| String::from_utf8_lossy(c).to_ascii_lowercase());
        if let Some(ct) = content_type {
            let kind = if ct.starts_with("application/x-www-form-urlencoded") {
                Some(BodyProcessorKind::UrlEncoded)
            } else if ct.starts_with("multipart/form-data") {
                Some(BodyProcessorKind::Multipart)
            } else {
                None
            };
            if let Some(kind) = kind {
                self.data.reqbody_processor = Some(kind);
                self.data.reqbody_processor_name = Some(kind.name().to_string());
            }
        }
        self.run_once(1);
        self.interruption().cloned()
    }

    /// Buffer a chunk of request body (only when body access is on). Returns an intervention
    /// if the body limit is exceeded with `SecRequestBodyLimitAction Reject` in `On` mode.
    pub fn append_request_body(&mut self, chunk: &[u8]) -> Option<Intervention> {
        if self.state.request_body_truncated {
            return self.interruption().cloned();
        }
        // The limit counts the whole body, buffered or not (as ModSecurity v3 does).
        let limit = self.state.request_body_limit;
        let room = limit.saturating_sub(self.state.request_body_seen);
        let take = chunk.len().min(room);
        self.state.request_body_seen += take;
        if self.state.request_body_access {
            self.state.request_body.extend_from_slice(&chunk[..take]);
        }
        if chunk.len() > room {
            self.state.request_body_truncated = true;
            self.data.inbound_data_error = true;
            self.body_limit_hit(self.engine.config.request_body_limit_action, 2);
        }
        self.interruption().cloned()
    }

    /// Parse the buffered body with the chosen body processor and run phase 2. Call it for
    /// every request, with or without a body: CRS decides on blocking (949110) in phase 2.
    /// Runs phase 1 first if [`Transaction::process_request_headers`] was not called.
    pub fn process_request_body(&mut self) -> Option<Intervention> {
        if self.state.phases_run[1] {
            return self.interruption().cloned();
        }
        if !self.state.phases_run[0] {
            self.process_request_headers();
        }
        if self.state.request_body_access && self.state.interruption.is_none() {
            self.parse_request_body();
        }
        self.run_once(2);
        self.interruption().cloned()
    }

    /// Add a response header.
    pub fn add_response_header(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.data.response_headers.add(name, value.as_ref());
    }

    /// Record the response status and protocol and run phase 3. Runs phases 1–2 first if
    /// they have not run (so a forgotten [`Transaction::process_request_body`] cannot skip
    /// the request-side blocking decision).
    pub fn process_response_headers(&mut self, status: u16, protocol: &str) -> Option<Intervention> {
        if !self.state.phases_run[1] {
            if let Some(i) = self.process_request_body() {
                return Some(i);
            }
        }
        self.data.response_status = Some(status);
        self.data.response_protocol = protocol.as_bytes().to_vec();
        self.run_once(3);
        self.interruption().cloned()
    }

    /// Whether the response body will be inspected (response body access on and its
    /// `Content-Type` listed in `SecResponseBodyMimeType`).
    pub fn response_body_inspected(&self) -> bool {
        if !self.state.response_body_access {
            return false;
        }
        let ct = self.data.response_headers.get("content-type").map(|c| String::from_utf8_lossy(c).to_ascii_lowercase());
        let mime = ct.as_deref().unwrap_or("").split(';').next().unwrap_or("").trim().to_string();
        self.engine.config.response_body_mime_types.contains(&mime)
    }

    /// Buffer a chunk of response body (when inspected), up to `SecResponseBodyLimit`.
    /// With `SecResponseBodyLimitAction Reject`, the limit applies (as in ModSecurity v3) to
    /// every response body, inspected or not; only inspected bodies are buffered.
    pub fn append_response_body(&mut self, chunk: &[u8]) -> Option<Intervention> {
        let counted = self.engine.config.response_body_limit_action == crate::config::LimitAction::Reject;
        let inspected = self.response_body_inspected();
        if !(inspected || counted) || self.state.response_body_truncated {
            return self.interruption().cloned();
        }
        let room = self.engine.config.response_body_limit.saturating_sub(self.state.response_body_seen);
        let take = chunk.len().min(room);
        self.state.response_body_seen += take;
        if inspected {
            self.data.response_body.extend_from_slice(&chunk[..take]);
        }
        if chunk.len() > room {
            self.state.response_body_truncated = true;
            self.data.outbound_data_error = true;
            self.body_limit_hit(self.engine.config.response_body_limit_action, 4);
        }
        self.interruption().cloned()
    }

    /// Run phase 4 (response body).
    pub fn process_response_body(&mut self) -> Option<Intervention> {
        self.run_once(4);
        self.interruption().cloned()
    }

    /// Run phase 5 (logging) and write persistent collections back to the store.
    pub fn process_logging(&mut self) {
        self.run_once(5);
        let persistent = std::mem::take(&mut self.data.persistent);
        for (name, (key, record)) in persistent {
            self.engine.store.store(name, &key, record);
        }
    }

    /// Rules that matched so far, in order.
    pub fn matched_rules(&self) -> &[MatchedRule] {
        &self.state.matched_rules
    }

    /// The interruption, if a rule (or a limit) interrupted the transaction.
    pub fn interruption(&self) -> Option<&Intervention> {
        self.state.interruption.as_ref()
    }

    /// The request body processor's error (`REQBODY_ERROR_MSG`), if parsing failed, with the
    /// processor's name (`MULTIPART`, `JSON`, `XML`, `URLENCODED`).
    pub fn request_body_error(&self) -> Option<(&str, &str)> {
        if !self.data.reqbody_error {
            return None;
        }
        let processor = self.data.reqbody_processor_name.as_deref().unwrap_or("");
        Some((processor, self.data.reqbody_error_msg.as_str()))
    }

    /// The engine mode in force (rules can change it with `ctl:ruleEngine`).
    pub fn engine_mode(&self) -> EngineMode {
        self.state.mode
    }

    /// A `TX` variable's value (for tests and diagnostics), e.g. `blocking_inbound_anomaly_score`.
    pub fn tx_var(&self, name: &str) -> Option<String> {
        self.data.tx.get(&name.to_ascii_lowercase()).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    fn run_once(&mut self, phase: u8) {
        let index = usize::from(phase - 1);
        if !self.state.phases_run[index] {
            self.state.phases_run[index] = true;
            self.run_phase(phase);
        }
    }

    fn body_limit_hit(&mut self, action: crate::config::LimitAction, phase: u8) {
        if action == crate::config::LimitAction::Reject && self.state.mode == EngineMode::On && self.state.interruption.is_none() {
            // ModSecurity v3 answers body-limit rejections with 403.
            self.state.interruption = Some(Intervention { status: 403, redirect: None, drop: false, rule_id: 0, phase });
        }
    }
}

impl Drop for Transaction {
    /// The transaction's buffers go back to its engine for the next one (see `tx/spare.rs`).
    fn drop(&mut self) {
        self.engine.spares.give(spare::Spare {
            cache: std::mem::take(&mut self.cache),
            hits: std::mem::take(&mut self.hits),
            matched_rules: std::mem::take(&mut self.state.matched_rules),
            buffers: std::mem::take(&mut self.buffers),
            tx: std::mem::take(&mut self.data.tx),
        });
    }
}

#[cfg(test)]
mod tests;
