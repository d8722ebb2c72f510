//! Engine-wide settings set by `Sec*` directives (everything that is not a rule).

use std::collections::BTreeMap;

/// `SecRuleEngine`: whether rules run and whether their disruptive actions are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    /// Rules run and disruptive actions interrupt the transaction.
    On,
    /// Rules run and are logged, nothing is interrupted.
    DetectionOnly,
    /// No rule runs.
    Off,
}

impl EngineMode {
    /// Parse `On` / `Off` / `DetectionOnly` (case-insensitive).
    pub fn parse(text: &str) -> Option<EngineMode> {
        match text.to_ascii_lowercase().as_str() {
            "on" => Some(EngineMode::On),
            "off" => Some(EngineMode::Off),
            "detectiononly" => Some(EngineMode::DetectionOnly),
            _ => None,
        }
    }
}

/// What happens when a body is larger than its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitAction {
    /// Interrupt with status 413 (in `DetectionOnly`: stop buffering and flag the overflow).
    Reject,
    /// Keep the first `limit` bytes and process those.
    ProcessPartial,
}

/// Which request body processor parses a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProcessorKind {
    /// `application/x-www-form-urlencoded`.
    UrlEncoded,
    /// `multipart/form-data`.
    Multipart,
    /// JSON, flattened into `ARGS_POST` as `json.a.b`.
    Json,
    /// XML, readable through `XML:/*`.
    Xml,
}

impl BodyProcessorKind {
    /// Parse a `ctl:requestBodyProcessor=` value.
    pub fn parse(text: &str) -> Option<BodyProcessorKind> {
        match text.to_ascii_uppercase().as_str() {
            "URLENCODED" => Some(BodyProcessorKind::UrlEncoded),
            "MULTIPART" => Some(BodyProcessorKind::Multipart),
            "JSON" => Some(BodyProcessorKind::Json),
            "XML" => Some(BodyProcessorKind::Xml),
            _ => None,
        }
    }

    /// The name `REQBODY_PROCESSOR` reports.
    pub fn name(self) -> &'static str {
        match self {
            BodyProcessorKind::UrlEncoded => "URLENCODED",
            BodyProcessorKind::Multipart => "MULTIPART",
            BodyProcessorKind::Json => "JSON",
            BodyProcessorKind::Xml => "XML",
        }
    }
}

/// Engine settings. Defaults are ModSecurity v3's.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SecRuleEngine` (default `On`).
    pub rule_engine: EngineMode,
    /// `SecRequestBodyAccess`: default on, as in ModSecurity v3, where only an explicit `Off`
    /// stops request bodies from being parsed.
    pub request_body_access: bool,
    /// `SecResponseBodyAccess` (default off).
    pub response_body_access: bool,
    /// `SecRequestBodyLimit` in bytes (default 13 MiB).
    pub request_body_limit: usize,
    /// `SecRequestBodyNoFilesLimit` in bytes (default 128 KiB).
    pub request_body_no_files_limit: usize,
    /// `SecRequestBodyLimitAction` (default `Reject`).
    pub request_body_limit_action: LimitAction,
    /// `SecResponseBodyLimit` in bytes (default 512 KiB).
    pub response_body_limit: usize,
    /// `SecResponseBodyLimitAction` (default `ProcessPartial`).
    pub response_body_limit_action: LimitAction,
    /// `SecResponseBodyMimeType` (default `text/plain text/html`).
    pub response_body_mime_types: Vec<String>,
    /// `SecArgumentSeparator` (default `&`).
    pub argument_separator: u8,
    /// `SecArgumentsLimit`: the most arguments a body processor stores (default 1000).
    pub arguments_limit: usize,
    /// Deepest JSON / XML nesting accepted before `REQBODY_ERROR` (default 512).
    pub body_depth_limit: usize,
    /// Most multipart parts accepted before `REQBODY_ERROR` (default 1000).
    pub multipart_parts_limit: usize,
    /// `SecPcreMatchLimit` (recorded; our regex engine has no backtracking).
    pub pcre_match_limit: u64,
    /// `SecPcreMatchLimitRecursion` (recorded).
    pub pcre_match_limit_recursion: u64,
    /// `SecCollectionTimeout` in seconds (default 3600).
    pub collection_timeout: u64,
    /// `SecWebAppId` (default `default`).
    pub web_app_id: String,
    /// `SecComponentSignature` values.
    pub component_signatures: Vec<String>,
    /// Logging and storage settings accepted but not acted on here (`SecAuditLog`,
    /// `SecDebugLogLevel`, `SecTmpDir`, `SecDataDir`, `SecUploadDir`, …): name → arguments.
    pub logging: BTreeMap<String, Vec<String>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rule_engine: EngineMode::On,
            request_body_access: true,
            response_body_access: false,
            request_body_limit: 13_107_200,
            request_body_no_files_limit: 131_072,
            request_body_limit_action: LimitAction::Reject,
            response_body_limit: 524_288,
            response_body_limit_action: LimitAction::ProcessPartial,
            response_body_mime_types: vec!["text/plain".into(), "text/html".into()],
            argument_separator: b'&',
            arguments_limit: 1000,
            body_depth_limit: 512,
            multipart_parts_limit: 1000,
            pcre_match_limit: 1000,
            pcre_match_limit_recursion: 1000,
            collection_timeout: 3600,
            web_app_id: "default".into(),
            component_signatures: Vec::new(),
            logging: BTreeMap::new(),
        }
    }
}
