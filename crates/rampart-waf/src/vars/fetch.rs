//! Reading a variable's values out of a transaction for a rule: collections yield one value
//! per selected key, single variables one value (or none when not available), `&VAR` the count.

use std::borrow::Cow;

use super::time::CivilTime;
use super::{Target, Variable};
use crate::tx::data::{Collection, TxData};
use crate::tx::tx_vars::VarMap;

/// One value a rule inspects.
#[derive(Debug, Clone)]
pub struct Value<'a> {
    /// The variable it came from.
    pub variable: Variable,
    /// Its key within the variable (empty for single variables).
    pub key: Cow<'a, str>,
    /// The bytes.
    pub value: Cow<'a, [u8]>,
}

impl Value<'_> {
    /// `ARGS:foo` or `REQUEST_URI`, as `MATCHED_VAR_NAME` reports it.
    pub fn full_name(&self) -> String {
        let mut out = String::with_capacity(self.variable.name().len() + 1 + self.key.len());
        self.write_full_name(&mut out);
        out
    }

    /// Append [`Value::full_name`] to `out`.
    pub fn write_full_name(&self, out: &mut String) {
        out.push_str(self.variable.name());
        if !self.key.is_empty() {
            out.push(':');
            out.push_str(&self.key);
        }
    }
}

/// Where fetched values go: a list ([`Vec`]), a visitor that looks at each as it comes
/// ([`Visit`]), or a count.
pub trait ValueSink<'a> {
    /// Take the next value.
    fn put(&mut self, value: Value<'a>);
}

impl<'a> ValueSink<'a> for Vec<Value<'a>> {
    fn put(&mut self, value: Value<'a>) {
        self.push(value);
    }
}

/// A visitor as a [`ValueSink`]: each value is handed to the closure, none is kept, so a rule
/// tests its values without a list to fill (and to keep from rule to rule).
pub struct Visit<F>(pub F);

impl<'a, F: FnMut(Value<'a>)> ValueSink<'a> for Visit<F> {
    fn put(&mut self, value: Value<'a>) {
        (self.0)(value);
    }
}

/// Counts the values (for `&VAR`).
struct Count(usize);

impl ValueSink<'_> for Count {
    fn put(&mut self, _: Value<'_>) {
        self.0 += 1;
    }
}

/// Give the values of `target` to `out`, leaving out keys for which `excluded` is true.
pub fn fetch<'a>(data: &'a TxData, target: &Target, excluded: &dyn Fn(Variable, &str) -> bool, out: &mut impl ValueSink<'a>) {
    if target.count {
        let mut count = Count(0);
        values(data, target, excluded, &mut count);
        const DIGITS: [&[u8]; 10] = [b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9"];
        let value = match DIGITS.get(count.0) {
            Some(d) => Cow::Borrowed(*d),
            None => Cow::Owned(count.0.to_string().into_bytes()),
        };
        out.put(Value { variable: target.variable, key: Cow::Borrowed(""), value });
    } else {
        values(data, target, excluded, out);
    }
}

fn values<'a>(data: &'a TxData, target: &Target, excluded: &dyn Fn(Variable, &str) -> bool, out: &mut impl ValueSink<'a>) {
    use Variable::*;
    let v = target.variable;
    let selected = |key: &str| target.selector.as_ref().is_none_or_match(key) && !excluded(v, key);
    let push_coll = |c: &'a Collection, names: bool, out: &mut dyn ValueSink<'a>| {
        for (k, val) in &c.entries {
            if selected(k) {
                let value = if names { Cow::Borrowed(k.as_bytes()) } else { Cow::Borrowed(val.as_slice()) };
                out.put(Value { variable: v, key: Cow::Borrowed(k.as_str()), value });
            }
        }
    };
    match v {
        Args => {
            push_coll(&data.args_get, false, out);
            push_coll(&data.args_post, false, out);
        }
        ArgsGet => push_coll(&data.args_get, false, out),
        ArgsPost => push_coll(&data.args_post, false, out),
        ArgsNames => {
            push_coll(&data.args_get, true, out);
            push_coll(&data.args_post, true, out);
        }
        ArgsGetNames => push_coll(&data.args_get, true, out),
        ArgsPostNames => push_coll(&data.args_post, true, out),
        RequestHeaders => push_coll(&data.request_headers, false, out),
        RequestHeadersNames => push_coll(&data.request_headers, true, out),
        RequestCookies => push_coll(&data.request_cookies, false, out),
        RequestCookiesNames => push_coll(&data.request_cookies, true, out),
        ResponseHeaders => push_coll(&data.response_headers, false, out),
        ResponseHeadersNames => push_coll(&data.response_headers, true, out),
        Files => push_coll(&data.files, false, out),
        FilesNames => push_coll(&data.files, true, out),
        FilesSizes => push_coll(&data.files_sizes, false, out),
        FilesTmpContent => push_coll(&data.files_tmp_content, false, out),
        FilesTmpNames => {}
        MultipartFilename => push_coll(&data.multipart_filename, false, out),
        MultipartName => push_coll(&data.multipart_name, false, out),
        MultipartPartHeaders => push_coll(&data.multipart_part_headers, false, out),
        Env => push_coll(&data.env, false, out),
        Xml => {
            let wants_attributes = target.selector.as_ref().and_then(|s| s.key()).is_some_and(|k| k.contains('@'));
            if wants_attributes {
                for (k, val) in &data.xml_attributes.entries {
                    out.put(Value { variable: v, key: Cow::Borrowed(k.as_str()), value: Cow::Borrowed(val.as_slice()) });
                }
            } else if let Some(text) = &data.xml_text {
                let key = target.selector.as_ref().and_then(|s| s.key()).unwrap_or("/*");
                out.put(Value { variable: v, key: Cow::Owned(key.to_string()), value: Cow::Borrowed(text.as_slice()) });
            }
        }
        Tx => map(v, &data.tx, target, excluded, out),
        Ip | Global | Session | User | Resource => {
            if let Some(record) = data.persistent(v) {
                map(v, record, target, excluded, out);
            }
        }
        Rule => {
            let r = &data.rule;
            let rule_text = data.rule_texts.get(r.text as usize);
            let text = |t: Option<&'a Option<std::sync::Arc<str>>>| Cow::Borrowed(t.and_then(|t| t.as_deref()).unwrap_or("").as_bytes());
            let fields: [(&'static str, Cow<'a, [u8]>); 7] = [
                ("id", Cow::Owned(r.id.to_string().into_bytes())),
                ("phase", Cow::Owned(r.phase.to_string().into_bytes())),
                ("msg", Cow::Borrowed(rule_text.map_or("", |t| t.msg.as_str()).as_bytes())),
                ("severity", Cow::Owned(r.severity.map(|s| s.to_string()).unwrap_or_default().into_bytes())),
                ("rev", text(rule_text.map(|t| &t.rev))),
                ("ver", text(rule_text.map(|t| &t.ver))),
                ("logdata", Cow::Borrowed(r.logdata.as_bytes())),
            ];
            for (k, val) in fields {
                if selected(k) {
                    out.put(Value { variable: v, key: Cow::Borrowed(k), value: val });
                }
            }
        }
        MatchedVars | MatchedVarsNames => {
            for (name, val) in &data.matched_vars {
                if selected(name) {
                    let value = if v == MatchedVars { Cow::Borrowed(val.as_slice()) } else { Cow::Borrowed(name.as_bytes()) };
                    out.put(Value { variable: v, key: Cow::Borrowed(name.as_str()), value });
                }
            }
        }
        Geo => {}
        _ => {
            // As in Coraza, a single variable always yields one value (empty when unknown), so
            // that `!@rx` on an unset REQBODY_PROCESSOR matches as CRS expects.
            if excluded(v, "") {
                return;
            }
            let value = single(data, v).unwrap_or(Cow::Borrowed(b""));
            out.put(Value { variable: v, key: Cow::Borrowed(""), value });
        }
    }
}

trait SelectorExt {
    fn is_none_or_match(&self, key: &str) -> bool;
}

impl SelectorExt for Option<&super::Selector> {
    fn is_none_or_match(&self, key: &str) -> bool {
        match self {
            Some(s) => s.matches(key),
            None => true,
        }
    }
}

fn map<'a>(
    v: Variable,
    m: &'a dyn VarMap,
    target: &Target,
    excluded: &dyn Fn(Variable, &str) -> bool,
    out: &mut impl ValueSink<'a>,
) {
    if let Some(key) = target.selector.as_ref().and_then(|s| s.key()) {
        // Literal selectors are stored lower-cased, as the keys of these maps are.
        if let Some((k, val)) = m.entry_of(key) {
            if !excluded(v, k) {
                out.put(Value { variable: v, key: Cow::Borrowed(k.as_str()), value: Cow::Borrowed(val.as_slice()) });
            }
        }
        return;
    }
    let selector = target.selector.as_ref();
    // The key test starts with the selector's literal prefix, if it has one: most keys lack it.
    let prefix = selector.and_then(|s| s.prefix()).unwrap_or("");
    let mut selected: Vec<Value<'a>> = Vec::new();
    m.each_selected(selector, prefix, &mut |k, val| {
        if !excluded(v, k) {
            selected.push(Value { variable: v, key: Cow::Borrowed(k.as_str()), value: Cow::Borrowed(val.as_slice()) });
        }
    });
    // In key order, as ModSecurity walks its collections (and `MATCHED_VAR` ends up the last).
    selected.sort_by(|a, b| a.key.cmp(&b.key));
    for value in selected {
        out.put(value);
    }
}

fn flag(b: bool) -> Option<Cow<'static, [u8]>> {
    Some(Cow::Borrowed(if b { b"1" } else { b"0" }))
}

fn b(bytes: &[u8]) -> Option<Cow<'_, [u8]>> {
    Some(Cow::Borrowed(bytes))
}

fn owned(s: String) -> Option<Cow<'static, [u8]>> {
    Some(Cow::Owned(s.into_bytes()))
}

/// The value of a single (non-collection) variable, `None` when not available.
pub fn single(data: &TxData, v: Variable) -> Option<Cow<'_, [u8]>> {
    use Variable::*;
    let m = &data.multipart;
    match v {
        RequestFilename => b(&data.filename),
        RequestBasename => b(&data.basename),
        RequestUri => b(&data.uri),
        RequestUriRaw => b(&data.uri_raw),
        RequestLine => b(&data.request_line),
        RequestMethod => b(&data.method),
        RequestProtocol => b(&data.protocol),
        QueryString => b(&data.query_string),
        RequestBody => b(&data.request_body),
        RequestBodyLength => owned(data.request_body_length.to_string()),
        ArgsCombinedSize => {
            let size: usize = data.args_get.entries.iter().chain(&data.args_post.entries).map(|(k, v)| k.len() + v.len()).sum();
            owned(size.to_string())
        }
        FilesCombinedSize => {
            let size: u64 = data.files_sizes.entries.iter().map(|(_, v)| String::from_utf8_lossy(v).parse::<u64>().unwrap_or(0)).sum();
            owned(size.to_string())
        }
        MultipartBoundaryQuoted => flag(m.boundary_quoted),
        MultipartBoundaryWhitespace => flag(m.boundary_whitespace),
        MultipartDataAfter => flag(m.data_after),
        MultipartDataBefore => flag(m.data_before),
        MultipartFileLimitExceeded => flag(m.file_limit_exceeded),
        MultipartHeaderFolding => flag(m.header_folding),
        MultipartInvalidHeaderFolding => flag(m.invalid_header_folding),
        MultipartInvalidPart => flag(m.invalid_part),
        MultipartInvalidQuoting => flag(m.invalid_quoting),
        MultipartLfLine => flag(m.lf_line),
        MultipartCrlfLfLines => flag(m.crlf_lf_lines),
        MultipartMissingSemicolon | MultipartSemicolonMissing => flag(m.missing_semicolon),
        MultipartStrictError => flag(m.strict_error(data.reqbody_error && data.reqbody_processor == Some(crate::config::BodyProcessorKind::Multipart))),
        MultipartUnmatchedBoundary => owned(m.unmatched_boundary.to_string()),
        ReqbodyError | ReqbodyProcessorError => flag(data.reqbody_error),
        ReqbodyErrorMsg | ReqbodyProcessorErrorMsg => b(data.reqbody_error_msg.as_bytes()),
        ReqbodyProcessor => data.reqbody_processor_name.as_deref().map(|n| Cow::Borrowed(n.as_bytes())),
        UrlencodedError => flag(data.urlencoded_error),
        ResponseStatus => data.response_status.and_then(|s| owned(s.to_string())),
        ResponseBody => b(&data.response_body),
        ResponseContentType => data.response_headers.get("content-type").map(Cow::Borrowed),
        ResponseContentLength => data.response_headers.get("content-length").map(Cow::Borrowed),
        ResponseProtocol => b(&data.response_protocol),
        RemoteAddr | RemoteHost => b(data.remote_addr.as_bytes()),
        RemotePort => owned(data.remote_port.to_string()),
        RemoteUser => None,
        ServerAddr => b(data.server_addr.as_bytes()),
        ServerPort => owned(data.server_port.to_string()),
        ServerName => {
            let host = data.request_headers.get("host")?;
            let host = String::from_utf8_lossy(host);
            let name = if host.starts_with('[') {
                host.split_once(']').map(|(h, _)| format!("{h}]")).unwrap_or_else(|| host.to_string())
            } else {
                host.split(':').next().unwrap_or("").to_string()
            };
            owned(name)
        }
        SessionId => data.persistent(Session).map(|_| Cow::Owned(data.persistent.get("SESSION").map(|(k, _)| k.clone()).unwrap_or_default().into_bytes())),
        UserId => data.persistent(User).map(|_| Cow::Owned(data.persistent.get("USER").map(|(k, _)| k.clone()).unwrap_or_default().into_bytes())),
        MatchedVar => b(&data.matched_var),
        MatchedVarName => b(data.matched_var_name.as_bytes()),
        UniqueId => b(data.unique_id.as_bytes()),
        Duration => owned(data.started.map(|s| s.elapsed().as_millis()).unwrap_or(0).to_string()),
        Time | TimeDay | TimeEpoch | TimeHour | TimeMin | TimeMon | TimeSec | TimeWday | TimeYear => {
            let t = CivilTime::now();
            owned(match v {
                Time => format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second),
                TimeDay => format!("{:02}", t.day),
                TimeEpoch => t.epoch.to_string(),
                TimeHour => format!("{:02}", t.hour),
                TimeMin => format!("{:02}", t.minute),
                TimeMon => format!("{:02}", t.month),
                TimeSec => format!("{:02}", t.second),
                TimeWday => t.weekday.to_string(),
                _ => t.year.to_string(),
            })
        }
        HighestSeverity => owned(data.highest_severity.map_or(255, u16::from).to_string()),
        StatusLine => data.response_status.and_then(|s| owned(format!("{} {}", String::from_utf8_lossy(&data.response_protocol), s))),
        InboundDataError => flag(data.inbound_data_error),
        OutboundDataError => flag(data.outbound_data_error),
        WebAppId => b(data.web_app_id.as_bytes()),
        FullRequest => Some(Cow::Owned(data.full_request())),
        FullRequestLength => owned(data.full_request().len().to_string()),
        AuthType => data.request_headers.get("authorization").map(|a| {
            let scheme = a.split(|c| *c == b' ').next().unwrap_or_default();
            Cow::Borrowed(scheme)
        }),
        PathInfo => b(&data.path_info),
        MscPcreLimitsExceeded => flag(false),
        _ => None,
    }
}
