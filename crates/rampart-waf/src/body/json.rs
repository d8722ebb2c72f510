//! JSON request bodies, flattened into `ARGS_POST` as Coraza does: `{"a":{"b":1},"c":[x,y]}`
//! gives `json.a.b=1`, `json.c.0=x`, `json.c.1=y` and `json.c=2` (the array length).
//! Strings are unquoted, `null` is empty, numbers and booleans are kept as written.

use serde_json::Value;

use super::BodyError;
use crate::tx::data::Collection;

/// Parse `body` into `out`, refusing nesting deeper than `depth_limit` and storing at most
/// `arguments_limit` arguments.
pub fn parse(body: &[u8], depth_limit: usize, arguments_limit: usize, out: &mut Collection) -> Result<(), BodyError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| BodyError(format!("JSON parsing error: {e}")))?;
    let mut key = String::from("json");
    walk(&value, &mut key, 0, depth_limit, arguments_limit, out)
}

fn walk(value: &Value, key: &mut String, depth: usize, depth_limit: usize, limit: usize, out: &mut Collection) -> Result<(), BodyError> {
    if depth > depth_limit {
        return Err(BodyError(format!("JSON nesting deeper than {depth_limit}")));
    }
    let add = |out: &mut Collection, k: &str, v: Vec<u8>| {
        if out.len() >= limit {
            return Err(BodyError(format!("JSON: more than {limit} arguments")));
        }
        out.add(k, v);
        Ok(())
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let len = key.len();
                key.push('.');
                key.push_str(k);
                walk(v, key, depth + 1, depth_limit, limit, out)?;
                key.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = key.len();
                key.push('.');
                key.push_str(&i.to_string());
                walk(v, key, depth + 1, depth_limit, limit, out)?;
                key.truncate(len);
            }
            if !items.is_empty() {
                add(out, key, items.len().to_string().into_bytes())?;
            }
        }
        Value::String(s) => add(out, key, s.as_bytes().to_vec())?,
        Value::Null => add(out, key, Vec::new())?,
        other => add(out, key, other.to_string().into_bytes())?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens() {
        let mut c = Collection::default();
        parse(br#"{"a":{"b":1},"c":["x","y"],"d":null}"#, 10, 100, &mut c).unwrap();
        assert_eq!(c.get("json.a.b"), Some(&b"1"[..]));
        assert_eq!(c.get("json.c.1"), Some(&b"y"[..]));
        assert_eq!(c.get("json.c"), Some(&b"2"[..]));
        assert_eq!(c.get("json.d"), Some(&b""[..]));
    }

    #[test]
    fn errors_not_panics() {
        let mut c = Collection::default();
        assert!(parse(b"{\"a\":", 10, 100, &mut c).is_err());
        assert!(parse(b"[[[[[1]]]]]", 3, 100, &mut c).is_err());
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes(), 10, 100, &mut c).is_err());
    }
}
