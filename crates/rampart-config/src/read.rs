//! From text to [`RawConfig`]: TOML syntax, then each section through serde on its own.
//!
//! serde stops at the first error of a value, so a whole-document `from_str` would report one
//! mistake per run. Instead each top-level section (and each element of an array of tables)
//! is deserialized separately; when it fails at a key, the error is recorded, that key is
//! removed, and the section is tried again. A section with an unknown key and a mistyped
//! value therefore yields both errors *and* a raw struct that validation can go on checking.

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml_edit::{ImDocument, Item, TableLike, Value};

use crate::context::{Ctx, Span};
use crate::error::ErrorKind;
use crate::raw::RawConfig;
use crate::suggest::{did_you_mean, one_of};

/// Every top-level key.
pub(crate) const TOP_LEVEL: &[&str] = &[
    "mode", "server", "listener", "limits", "upstream", "route", "priority", "access", "rate_limit",
    "flood", "login", "exfiltration", "waf", "state", "audit", "incident", "admin", "log", "drill",
];

/// Parse `ctx`'s text into the raw model. `None` when the text is not TOML (the syntax error
/// has been recorded).
pub(crate) fn read_document(ctx: &mut Ctx<'_>, text: &str) -> Option<RawConfig> {
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().replace('\n', "; ");
            ctx.error(Some(&span), ErrorKind::Syntax, format!("invalid TOML: {message}"));
            return None;
        }
    };
    let root = doc.as_table();
    let mut raw = RawConfig::default();
    for (key, item) in root.iter() {
        let key_span = root.key(key).and_then(|k| k.span());
        match key {
            "mode" => raw.mode = value(ctx, "mode", item, &mut raw.incomplete),
            "server" => raw.server = table(ctx, "server", item, &mut raw.incomplete),
            "limits" => raw.limits = table(ctx, "limits", item, &mut raw.incomplete),
            "access" => raw.access = table(ctx, "access", item, &mut raw.incomplete),
            "flood" => raw.flood = table(ctx, "flood", item, &mut raw.incomplete),
            "waf" => raw.waf = table(ctx, "waf", item, &mut raw.incomplete),
            "state" => raw.state = table(ctx, "state", item, &mut raw.incomplete),
            "audit" => raw.audit = table(ctx, "audit", item, &mut raw.incomplete),
            "incident" => raw.incident = table(ctx, "incident", item, &mut raw.incomplete),
            "admin" => raw.admin = table(ctx, "admin", item, &mut raw.incomplete),
            "log" => raw.log = table(ctx, "log", item, &mut raw.incomplete),
            "drill" => raw.drill = table(ctx, "drill", item, &mut raw.incomplete),
            "listener" => raw.listeners = array(ctx, "listener", item, &mut raw.incomplete),
            "upstream" => raw.upstreams = array(ctx, "upstream", item, &mut raw.incomplete),
            "route" => raw.routes = array(ctx, "route", item, &mut raw.incomplete),
            "priority" => raw.priorities = array(ctx, "priority", item, &mut raw.incomplete),
            "rate_limit" => raw.rate_limits = array(ctx, "rate_limit", item, &mut raw.incomplete),
            "login" => raw.logins = array(ctx, "login", item, &mut raw.incomplete),
            "exfiltration" => raw.exfiltration = array(ctx, "exfiltration", item, &mut raw.incomplete),
            other => {
                let span = key_span.or_else(|| item.span());
                ctx.error(
                    span.as_ref(),
                    ErrorKind::UnknownKey,
                    format!(
                        "unknown section `{other}`{}; the sections are {}",
                        did_you_mean(other, TOP_LEVEL.iter().copied()),
                        one_of(TOP_LEVEL)
                    ),
                );
            }
        }
    }
    Some(raw)
}

fn static_name(name: &str) -> &'static str {
    TOP_LEVEL.iter().copied().find(|k| *k == name).unwrap_or("?")
}

/// A top-level plain value (`mode = "detect"`).
fn value<T: DeserializeOwned>(
    ctx: &mut Ctx<'_>,
    name: &str,
    item: &Item,
    incomplete: &mut std::collections::BTreeSet<&'static str>,
) -> Option<T> {
    if item.is_table() || item.is_array_of_tables() {
        ctx.invalid(&item.span().unwrap_or(0..0), format!("`{name}` is a value, not a section: write `{name} = \"...\"` before the first [section]"));
        incomplete.insert(static_name(name));
        return None;
    }
    let out = lenient(ctx, name, item.clone());
    if out.is_none() {
        incomplete.insert(static_name(name));
    }
    out
}

/// A section written `[name]` (or `name = { ... }`).
fn table<T: DeserializeOwned>(
    ctx: &mut Ctx<'_>,
    name: &str,
    item: &Item,
    incomplete: &mut std::collections::BTreeSet<&'static str>,
) -> Option<T> {
    if item.is_array_of_tables() || item.is_array() {
        let span = item.span().or_else(|| first_span(item));
        ctx.invalid(&span.unwrap_or(0..0), format!("`[{name}]` is a single table: write `[{name}]`, not `[[{name}]]`"));
        incomplete.insert(static_name(name));
        return None;
    }
    let out = lenient(ctx, &format!("[{name}]"), item.clone());
    if out.is_none() {
        incomplete.insert(static_name(name));
    }
    out
}

fn first_span(item: &Item) -> Option<Span> {
    match item {
        Item::ArrayOfTables(a) => a.iter().next().and_then(|t| t.span()),
        Item::Value(Value::Array(a)) => a.iter().next().and_then(|v| v.span()),
        _ => None,
    }
}

/// A section written `[[name]]` (or `name = [{ ... }]`).
fn array<T: DeserializeOwned>(
    ctx: &mut Ctx<'_>,
    name: &str,
    item: &Item,
    incomplete: &mut std::collections::BTreeSet<&'static str>,
) -> Vec<T> {
    let label = format!("[[{name}]]");
    let elements: Vec<Item> = match item {
        Item::ArrayOfTables(a) => a.iter().cloned().map(Item::Table).collect(),
        Item::Value(Value::Array(a)) => a.iter().cloned().map(Item::Value).collect(),
        other => {
            let span = other.span().unwrap_or(0..0);
            ctx.invalid(&span, format!("`{name}` is a list of sections: write `[[{name}]]`, not `[{name}]`"));
            incomplete.insert(static_name(name));
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(elements.len());
    for element in elements {
        match lenient(ctx, &label, element) {
            Some(v) => out.push(v),
            None => {
                incomplete.insert(static_name(name));
            }
        }
    }
    out
}

fn deserialize<T: DeserializeOwned>(item: Item) -> Result<T, toml_edit::de::Error> {
    match item {
        Item::Table(t) => T::deserialize(toml_edit::DocumentMut::from(t).into_deserializer()),
        Item::Value(v) => T::deserialize(v.into_deserializer()),
        Item::ArrayOfTables(a) => T::deserialize(Value::Array(a.into_array()).into_deserializer()),
        Item::None => Err(serde::de::Error::custom("missing value")),
    }
}

/// Deserialize `item`, recording every error serde reports (see the module docs).
fn lenient<T: DeserializeOwned>(ctx: &mut Ctx<'_>, label: &str, mut item: Item) -> Option<T> {
    let mut removed: Vec<String> = Vec::new();
    let whole = item.span().unwrap_or(0..0);
    for _ in 0..256 {
        let err = match deserialize::<T>(item.clone()) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let message = err.message().to_string();
        if let Some(field) = backticked(&message).first().filter(|_| message.starts_with("missing field")) {
            // A required key we removed ourselves after reporting it: already said.
            if removed.iter().any(|r| r.rsplit('.').next() == Some(field.as_str())) {
                return None;
            }
            ctx.error(Some(&err.span().unwrap_or(whole.clone())), ErrorKind::MissingKey,
                format!("missing key `{field}` in {label}"));
            return None;
        }
        let span = err.span();
        let path = span.as_ref().and_then(|s| remove_at(&mut item, s, ""));
        let (kind, text) = rewrite(&message, label, path.as_deref());
        ctx.error(Some(span.as_ref().unwrap_or(&whole)), kind, text);
        match path {
            Some(p) => removed.push(p),
            None => return None,
        }
    }
    None
}

/// The `` `quoted` `` words of a serde message, in order.
fn backticked(message: &str) -> Vec<String> {
    message.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// Turn serde's wording into ours: keys, not fields; TOML types, not Rust types.
fn rewrite(message: &str, label: &str, path: Option<&str>) -> (ErrorKind, String) {
    let (parent, key) = match path.and_then(|p| p.rsplit_once('.')) {
        Some((parent, key)) => (Some(parent), key),
        None => (None, path.unwrap_or("")),
    };
    let place = match parent {
        Some(p) => format!("[{}.{p}]", label.trim_matches(|c| c == '[' || c == ']')),
        None => label.to_string(),
    };
    if message.starts_with("unknown field") {
        let words = backticked(message);
        let unknown = words.first().cloned().unwrap_or_default();
        let allowed: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
        let mut text = format!("unknown key `{unknown}` in {place}{}", did_you_mean(&unknown, allowed.iter().copied()));
        if allowed.is_empty() {
            text.push_str("; this table takes no keys");
        } else {
            text.push_str(&format!("; allowed keys: {}", one_of(&allowed)));
        }
        if parent.is_none() && TOP_LEVEL.contains(&unknown.as_str()) && label.starts_with('[') {
            text.push_str(&format!(" (`{unknown}` is a top-level key: move it above the first [section] header, or it belongs to the section before it)"));
        }
        return (ErrorKind::UnknownKey, text);
    }
    let plain = match message.strip_prefix("invalid type: ").and_then(|m| m.split_once(", expected ")) {
        Some((found, expected)) => format!("expected {expected}, found {found}"),
        None => message.to_string(),
    };
    let plain = plain
        .replace("a sequence", "an array")
        .replace("expected i64", "expected an integer")
        .replace("expected a string", "expected a string (in quotes)")
        .replace("sequence", "an array")
        .replace("expected a map", "expected a table")
        .replace(" map", " a table")
        .replace("integer `", "an integer `");
    // `struct RawTls` → `a table`.
    let plain = match plain.find("struct Raw") {
        Some(i) => {
            let rest = &plain[i + "struct Raw".len()..];
            let end = rest.find(|c: char| !c.is_alphanumeric()).unwrap_or(rest.len());
            format!("{}a table{}", &plain[..i], &rest[end..])
        }
        None => plain,
    };
    let text = if key.is_empty() { format!("in {place}: {plain}") } else { format!("`{key}` in {place}: {plain}") };
    (ErrorKind::InvalidValue, text)
}

/// Remove the deepest key whose key or value is at `span`; return its dotted path.
fn remove_at(item: &mut Item, span: &Span, prefix: &str) -> Option<String> {
    match item {
        Item::Table(t) => remove_in(t, span, prefix),
        Item::Value(Value::InlineTable(t)) => remove_in(t, span, prefix),
        Item::ArrayOfTables(a) => a.iter_mut().find_map(|t| remove_in(t, span, prefix)),
        Item::Value(Value::Array(a)) => a.iter_mut().find_map(|v| match v {
            Value::InlineTable(t) => remove_in(t, span, prefix),
            _ => None,
        }),
        _ => None,
    }
}

fn contains(outer: &Option<Span>, inner: &Span) -> bool {
    outer.as_ref().is_some_and(|o| o.start <= inner.start && inner.end <= o.end)
}

fn remove_in(t: &mut dyn TableLike, span: &Span, prefix: &str) -> Option<String> {
    let keys: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
    for k in keys {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        let (key_span, item_span) = match t.get_key_value(&k) {
            Some((key, item)) => (key.span(), item.span()),
            None => continue,
        };
        if let Some(child) = t.get_mut(&k) {
            if let Some(found) = remove_at(child, span, &path) {
                return Some(found);
            }
        }
        if key_span.as_ref() == Some(span) || contains(&item_span, span) {
            t.remove(&k);
            return Some(path);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::testing::{errs, ok, raw_errs};

    #[test]
    fn syntax_error_has_position() {
        let e = raw_errs("[[listener]]\naddress = \"127.0.0.1:80\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("2:"), "{e:?}");
        assert!(e[0].contains("invalid TOML"), "{e:?}");
    }

    #[test]
    fn unknown_key_suggests() {
        let e = errs("[[rate_limit]]\nrate = \"20/s\"\nburts = 40\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("10:1: unknown key `burts` in [[rate_limit]], did you mean `burst`?"), "{e:?}");
        assert!(e[0].contains("allowed keys: `name`, `key`, `rate`"), "{e:?}");
    }

    #[test]
    fn every_bad_key_in_one_table() {
        let e = errs("[limits]\nmax_heders = 10\nmax_body = 5\nidle = \"1s\"\n");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("`max_heders`") && e[0].contains("did you mean `max_headers`"), "{e:?}");
        assert_eq!(e[1], "10:12: `max_body` in [limits]: expected a string (in quotes), found an integer `5`");
        assert!(e[2].contains("unknown key `idle`"), "{e:?}");
    }

    #[test]
    fn nested_unknown_key() {
        let e = errs("[[route]]\nupstream = \"app\"\n[[listener]]\naddress = \"127.0.0.1:8443\"\ntls = { cert = \"a\", key = \"b\", chain = \"c\" }\n");
        assert!(e.iter().any(|m| m.contains("unknown key `chain` in [listener.tls]")), "{e:?}");
    }

    #[test]
    fn unknown_section_and_wrong_shape() {
        let e = errs("[upstreams]\n");
        assert!(e.iter().any(|m| m.contains("unknown section `upstreams`, did you mean `upstream`?")), "{e:?}");
        let e = errs("[[limits]]\n");
        assert!(e[0].contains("write `[limits]`"), "{e:?}");
        let e = errs("[route]\nupstream = \"app\"\n");
        assert!(e[0].contains("write `[[route]]`"), "{e:?}");
    }

    #[test]
    fn missing_required_key() {
        let e = errs("[[route]]\npath = \"/\"\n");
        assert_eq!(e, vec!["8:1: missing key `upstream` in [[route]]".to_string()], "{e:?}");
    }

    #[test]
    fn misplaced_top_level_key_hint() {
        let e = errs("[log]\nlevel = \"info\"\nmode = \"detect\"\n");
        assert!(e[0].contains("`mode` is a top-level key"), "{e:?}");
    }

    #[test]
    fn top_level_mode() {
        let c = ok("");
        assert_eq!(c.mode, rampart_core::StageMode::Enforce);
        let c = crate::parse(&format!("mode = \"detect\"\n{}", crate::testing::BASE), std::path::Path::new("x.toml")).unwrap();
        assert_eq!(c.mode, rampart_core::StageMode::Detect);
    }

    #[test]
    fn dotted_keys_and_type_messages() {
        let e = errs("[[listener]]\naddress = \"127.0.0.1:8443\"\ntls.cert = \"/dev/null\"\ntls.key = \"/dev/null\"\nhttp2 = \"yes\"\n[[upstream]]\nname = \"b\"\nservers = \"127.0.0.1:1\"\n");
        assert_eq!(e, vec![
            "12:9: `http2` in [[listener]]: expected a boolean, found string \"yes\"".to_string(),
            "15:11: `servers` in [[upstream]]: expected an array, found string \"127.0.0.1:1\"".to_string(),
        ]);
        let e = raw_errs("server = 5\n");
        assert!(e.iter().any(|m| m == "1:10: in [server]: expected a table, found an integer `5`"), "{e:?}");
    }
}
