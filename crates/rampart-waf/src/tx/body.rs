//! Choosing and running the request body processor.

use super::Transaction;
use crate::body::{json, multipart, xml, BodyError};
use crate::config::{BodyProcessorKind, LimitAction};

impl Transaction {
    pub(crate) fn parse_request_body(&mut self) {
        let body = std::mem::take(&mut self.state.request_body);
        self.data.request_body_length = body.len();
        if self.state.force_request_body_variable && self.data.reqbody_processor.is_none() {
            self.data.reqbody_processor = Some(BodyProcessorKind::UrlEncoded);
            self.data.reqbody_processor_name = Some("URLENCODED".into());
        }
        let Some(kind) = self.data.reqbody_processor else {
            return;
        };
        // Nothing to parse: an empty JSON or XML body is not a body error.
        if body.is_empty() {
            return;
        }
        let mut cfg = self.engine.config.clone_limits();
        // SecArgumentsLimit counts every argument, query string included.
        cfg.arguments_limit = cfg.arguments_limit.saturating_sub(self.data.args_get.len());
        let mut body = body;
        if kind != BodyProcessorKind::Multipart && body.len() > cfg.no_files_limit {
            // As ModSecurity v3: a body processor error, which rules (200002) turn into a 400.
            body.truncate(cfg.no_files_limit);
            self.data.inbound_data_error = true;
            self.data.reqbody_error = true;
            self.data.reqbody_error_msg = "Request body excluding files is bigger than the maximum expected.".into();
            let _ = cfg.limit_action;
            return;
        }
        let result = match kind {
            BodyProcessorKind::UrlEncoded => {
                let flags = super::request::parse_query(&body, cfg.separator, cfg.arguments_limit, &mut self.data.args_post);
                self.data.urlencoded_error |= flags & 1 != 0;
                if flags & super::request::OVER_LIMIT != 0 {
                    Err(BodyError("Arguments limit exceeded".into()))
                } else {
                    Ok(())
                }
            }
            BodyProcessorKind::Json => json::parse(&body, cfg.depth_limit, cfg.arguments_limit, &mut self.data.args_post),
            BodyProcessorKind::Xml => xml::parse(&body, cfg.depth_limit, &mut self.data),
            BodyProcessorKind::Multipart => {
                let ct = self.data.request_headers.get("content-type").unwrap_or_default().to_vec();
                let limits = multipart::Limits { parts: cfg.parts_limit, arguments: cfg.arguments_limit, no_files: cfg.no_files_limit };
                multipart::parse(&body, &ct, limits, &mut self.data)
            }
        };
        // As ModSecurity v2 and Coraza: REQUEST_BODY is filled for URL-encoded bodies (and
        // for bodies forced to URL-encoded by `forceRequestBodyVariable`) only; CRS relies on
        // XML element names not being seen through REQUEST_BODY (944120 tests).
        if kind == BodyProcessorKind::UrlEncoded {
            self.data.request_body = body;
        }
        if let Err(BodyError(msg)) = result {
            self.data.reqbody_error = true;
            self.data.reqbody_error_msg = msg;
        }
    }
}

/// Limits the body processors need, copied out of the config.
pub(crate) struct BodyLimits {
    pub no_files_limit: usize,
    pub limit_action: LimitAction,
    pub separator: u8,
    pub arguments_limit: usize,
    pub depth_limit: usize,
    pub parts_limit: usize,
}

impl crate::config::Config {
    pub(crate) fn clone_limits(&self) -> BodyLimits {
        BodyLimits {
            no_files_limit: self.request_body_no_files_limit,
            limit_action: self.request_body_limit_action,
            separator: self.argument_separator,
            arguments_limit: self.arguments_limit,
            depth_limit: self.body_depth_limit,
            parts_limit: self.multipart_parts_limit,
        }
    }
}
