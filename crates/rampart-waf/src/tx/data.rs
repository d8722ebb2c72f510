//! What a transaction knows: the values variables read.

use std::collections::BTreeMap;

use crate::config::BodyProcessorKind;
use crate::vars::Variable;

/// An ordered multi-map with case-insensitive keys (headers, arguments, cookies, …).
#[derive(Debug, Clone, Default)]
pub struct Collection {
    /// Entries in arrival order: key as received, value bytes.
    pub entries: Vec<(String, Vec<u8>)>,
}

impl Collection {
    /// Append an entry.
    pub fn add(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.entries.push((key.into(), value.into()));
    }

    /// First value under `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_slice())
    }

    /// Replace every value under `key` with one.
    pub fn set(&mut self, key: &str, value: Vec<u8>) {
        self.entries.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        self.entries.push((key.to_string(), value));
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Multipart parser findings, read by CRS 920/922 through `MULTIPART_*` variables.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct MultipartFlags {
    pub boundary_quoted: bool,
    pub boundary_whitespace: bool,
    pub data_after: bool,
    pub data_before: bool,
    pub file_limit_exceeded: bool,
    pub header_folding: bool,
    pub invalid_header_folding: bool,
    pub invalid_part: bool,
    pub invalid_quoting: bool,
    pub lf_line: bool,
    pub crlf_lf_lines: bool,
    pub missing_semicolon: bool,
    /// 0, 1 (our delimiter followed by something else) or 2 (a foreign boundary).
    pub unmatched_boundary: u8,
}

impl MultipartFlags {
    /// `MULTIPART_STRICT_ERROR`: any of the flags (plus a body error) is set.
    pub fn strict_error(&self, reqbody_error: bool) -> bool {
        reqbody_error
            || self.boundary_quoted
            || self.boundary_whitespace
            || self.data_after
            || self.data_before
            || self.file_limit_exceeded
            || self.header_folding
            || self.invalid_header_folding
            || self.invalid_part
            || self.invalid_quoting
            || self.lf_line
            || self.missing_semicolon
            || self.unmatched_boundary != 0
    }
}

/// The rule being evaluated (for `RULE.*` and `%{rule.id}`).
#[derive(Debug, Clone, Default)]
pub struct CurrentRule {
    pub(crate) id: u64,
    pub(crate) phase: u8,
    pub(crate) severity: Option<u8>,
    /// msg, rev, ver of the rule: its index in [`TxData::rule_texts`] (no reference count to
    /// touch per rule).
    pub(crate) text: u32,
    pub(crate) logdata: String,
}

/// All variable values of a transaction.
#[derive(Debug, Default)]
#[allow(missing_docs)]
pub struct TxData {
    pub args_get: Collection,
    pub args_post: Collection,
    pub request_headers: Collection,
    pub request_cookies: Collection,
    pub response_headers: Collection,
    pub files: Collection,
    pub files_sizes: Collection,
    pub files_tmp_content: Collection,
    pub multipart_name: Collection,
    pub multipart_filename: Collection,
    pub multipart_part_headers: Collection,
    pub env: Collection,
    /// XML text nodes of the body (for `XML:/*`), and attribute values (`XML://@*`).
    pub xml_text: Option<Vec<u8>>,
    pub xml_attributes: Collection,
    /// `TX`, keys lower-cased.
    pub tx: super::tx_vars::TxVars,
    /// Persistent collections opened by `initcol`, keys lower-cased; with the record key.
    pub persistent: BTreeMap<&'static str, (String, BTreeMap<String, Vec<u8>>)>,
    pub request_line: Vec<u8>,
    pub method: Vec<u8>,
    pub uri: Vec<u8>,
    pub uri_raw: Vec<u8>,
    pub protocol: Vec<u8>,
    pub query_string: Vec<u8>,
    pub filename: Vec<u8>,
    pub basename: Vec<u8>,
    pub path_info: Vec<u8>,
    pub request_body: Vec<u8>,
    pub request_body_length: usize,
    pub response_status: Option<u16>,
    pub response_protocol: Vec<u8>,
    pub response_body: Vec<u8>,
    pub remote_addr: String,
    pub remote_port: u16,
    pub server_addr: String,
    pub server_port: u16,
    pub unique_id: String,
    pub reqbody_error: bool,
    pub reqbody_error_msg: String,
    pub reqbody_processor: Option<BodyProcessorKind>,
    pub reqbody_processor_name: Option<String>,
    pub urlencoded_error: bool,
    pub multipart: MultipartFlags,
    pub inbound_data_error: bool,
    pub outbound_data_error: bool,
    pub highest_severity: Option<u8>,
    pub matched_var: Vec<u8>,
    pub matched_var_name: String,
    /// `MATCHED_VARS` of the rule being evaluated: (variable name `ARGS:foo`, value).
    pub matched_vars: Vec<(String, Vec<u8>)>,
    pub rule: CurrentRule,
    /// The engine's rule texts (see [`CurrentRule`]).
    pub rule_texts: std::sync::Arc<[std::sync::Arc<crate::rule::RuleText>]>,
    pub web_app_id: String,
    pub started: Option<std::time::Instant>,
}

impl TxData {
    /// A persistent collection's values, if opened.
    pub fn persistent(&self, variable: Variable) -> Option<&BTreeMap<String, Vec<u8>>> {
        self.persistent.get(variable.name()).map(|(_, r)| r)
    }

    /// `FULL_REQUEST`: request line, headers and body as one buffer.
    pub fn full_request(&self) -> Vec<u8> {
        let mut out = self.request_line.clone();
        out.extend_from_slice(b"\r\n");
        for (k, v) in &self.request_headers.entries {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.request_body);
        out
    }
}
