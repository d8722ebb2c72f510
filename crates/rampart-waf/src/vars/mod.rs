//! Variables (`ARGS`, `REQUEST_HEADERS`, `TX`, …): their names, how a rule selects from them
//! ([`Target`]), and how a transaction yields their values ([`fetch`]).

pub mod fetch;
pub mod target;
pub mod time;

pub use target::{Exclusion, Selector, Target};

macro_rules! variables {
    ($($variant:ident => $name:literal,)*) => {
        /// A SecLang variable or collection.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Variable { $($variant,)* }

        impl Variable {
            /// Look a variable up by its upper-case SecLang name.
            pub fn from_name(name: &str) -> Option<Variable> {
                match name { $($name => Some(Variable::$variant),)* _ => None }
            }
            /// The SecLang name.
            pub fn name(self) -> &'static str {
                match self { $(Variable::$variant => $name,)* }
            }
        }
    };
}

variables! {
    Args => "ARGS",
    ArgsGet => "ARGS_GET",
    ArgsPost => "ARGS_POST",
    ArgsNames => "ARGS_NAMES",
    ArgsGetNames => "ARGS_GET_NAMES",
    ArgsPostNames => "ARGS_POST_NAMES",
    ArgsCombinedSize => "ARGS_COMBINED_SIZE",
    RequestHeaders => "REQUEST_HEADERS",
    RequestHeadersNames => "REQUEST_HEADERS_NAMES",
    RequestCookies => "REQUEST_COOKIES",
    RequestCookiesNames => "REQUEST_COOKIES_NAMES",
    RequestFilename => "REQUEST_FILENAME",
    RequestBasename => "REQUEST_BASENAME",
    RequestUri => "REQUEST_URI",
    RequestUriRaw => "REQUEST_URI_RAW",
    RequestLine => "REQUEST_LINE",
    RequestMethod => "REQUEST_METHOD",
    RequestProtocol => "REQUEST_PROTOCOL",
    QueryString => "QUERY_STRING",
    RequestBody => "REQUEST_BODY",
    RequestBodyLength => "REQUEST_BODY_LENGTH",
    Files => "FILES",
    FilesNames => "FILES_NAMES",
    FilesSizes => "FILES_SIZES",
    FilesCombinedSize => "FILES_COMBINED_SIZE",
    FilesTmpNames => "FILES_TMPNAMES",
    FilesTmpContent => "FILES_TMP_CONTENT",
    MultipartFilename => "MULTIPART_FILENAME",
    MultipartName => "MULTIPART_NAME",
    MultipartPartHeaders => "MULTIPART_PART_HEADERS",
    MultipartBoundaryQuoted => "MULTIPART_BOUNDARY_QUOTED",
    MultipartBoundaryWhitespace => "MULTIPART_BOUNDARY_WHITESPACE",
    MultipartDataAfter => "MULTIPART_DATA_AFTER",
    MultipartDataBefore => "MULTIPART_DATA_BEFORE",
    MultipartFileLimitExceeded => "MULTIPART_FILE_LIMIT_EXCEEDED",
    MultipartHeaderFolding => "MULTIPART_HEADER_FOLDING",
    MultipartInvalidHeaderFolding => "MULTIPART_INVALID_HEADER_FOLDING",
    MultipartInvalidPart => "MULTIPART_INVALID_PART",
    MultipartInvalidQuoting => "MULTIPART_INVALID_QUOTING",
    MultipartLfLine => "MULTIPART_LF_LINE",
    MultipartCrlfLfLines => "MULTIPART_CRLF_LF_LINES",
    MultipartMissingSemicolon => "MULTIPART_MISSING_SEMICOLON",
    MultipartSemicolonMissing => "MULTIPART_SEMICOLON_MISSING",
    MultipartStrictError => "MULTIPART_STRICT_ERROR",
    MultipartUnmatchedBoundary => "MULTIPART_UNMATCHED_BOUNDARY",
    ReqbodyError => "REQBODY_ERROR",
    ReqbodyErrorMsg => "REQBODY_ERROR_MSG",
    ReqbodyProcessor => "REQBODY_PROCESSOR",
    ReqbodyProcessorError => "REQBODY_PROCESSOR_ERROR",
    ReqbodyProcessorErrorMsg => "REQBODY_PROCESSOR_ERROR_MSG",
    UrlencodedError => "URLENCODED_ERROR",
    Xml => "XML",
    ResponseStatus => "RESPONSE_STATUS",
    ResponseHeaders => "RESPONSE_HEADERS",
    ResponseHeadersNames => "RESPONSE_HEADERS_NAMES",
    ResponseBody => "RESPONSE_BODY",
    ResponseContentType => "RESPONSE_CONTENT_TYPE",
    ResponseContentLength => "RESPONSE_CONTENT_LENGTH",
    ResponseProtocol => "RESPONSE_PROTOCOL",
    RemoteAddr => "REMOTE_ADDR",
    RemotePort => "REMOTE_PORT",
    RemoteHost => "REMOTE_HOST",
    RemoteUser => "REMOTE_USER",
    ServerAddr => "SERVER_ADDR",
    ServerPort => "SERVER_PORT",
    ServerName => "SERVER_NAME",
    Tx => "TX",
    Ip => "IP",
    Global => "GLOBAL",
    Session => "SESSION",
    User => "USER",
    Resource => "RESOURCE",
    SessionId => "SESSIONID",
    UserId => "USERID",
    Geo => "GEO",
    MatchedVar => "MATCHED_VAR",
    MatchedVars => "MATCHED_VARS",
    MatchedVarName => "MATCHED_VAR_NAME",
    MatchedVarsNames => "MATCHED_VARS_NAMES",
    Rule => "RULE",
    UniqueId => "UNIQUE_ID",
    Duration => "DURATION",
    Time => "TIME",
    TimeDay => "TIME_DAY",
    TimeEpoch => "TIME_EPOCH",
    TimeHour => "TIME_HOUR",
    TimeMin => "TIME_MIN",
    TimeMon => "TIME_MON",
    TimeSec => "TIME_SEC",
    TimeWday => "TIME_WDAY",
    TimeYear => "TIME_YEAR",
    Env => "ENV",
    HighestSeverity => "HIGHEST_SEVERITY",
    StatusLine => "STATUS_LINE",
    InboundDataError => "INBOUND_DATA_ERROR",
    OutboundDataError => "OUTBOUND_DATA_ERROR",
    WebAppId => "WEBAPPID",
    FullRequest => "FULL_REQUEST",
    FullRequestLength => "FULL_REQUEST_LENGTH",
    AuthType => "AUTH_TYPE",
    PathInfo => "PATH_INFO",
    MscPcreLimitsExceeded => "MSC_PCRE_LIMITS_EXCEEDED",
}

impl Variable {
    /// Whether the variable is a collection whose values have keys (so a selector makes sense).
    pub fn is_collection(self) -> bool {
        use Variable::*;
        matches!(
            self,
            Args | ArgsGet | ArgsPost | ArgsNames | ArgsGetNames | ArgsPostNames | RequestHeaders
                | RequestHeadersNames | RequestCookies | RequestCookiesNames | Files | FilesNames
                | FilesSizes | FilesTmpNames | FilesTmpContent | MultipartFilename | MultipartName
                | MultipartPartHeaders | Xml | ResponseHeaders | ResponseHeadersNames | Tx | Ip
                | Global | Session | User | Resource | Geo | MatchedVars | MatchedVarsNames | Rule | Env
        )
    }
}
