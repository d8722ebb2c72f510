//! JSON request bodies, flattened into `ARGS_POST` as Coraza does: `{"a":{"b":1},"c":[x,y]}`
//! gives `json.a.b=1`, `json.c.0=x`, `json.c.1=y` and `json.c=2` (the array length), in
//! document order. Strings are unquoted, `null` is empty, numbers and booleans are written
//! out. The body is flattened while it is read (no tree is built), refusing nesting deeper
//! than the limit and more arguments than the limit.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::BodyError;
use crate::tx::data::Collection;

/// Parse `body` into `out`, refusing nesting deeper than `depth_limit` and storing at most
/// `arguments_limit` arguments.
pub fn parse(body: &[u8], depth_limit: usize, arguments_limit: usize, out: &mut Collection) -> Result<(), BodyError> {
    let mut key = String::from("json");
    let mut de = serde_json::Deserializer::from_slice(body);
    let seed = Flatten { key: &mut key, out, depth: 0, depth_limit, limit: arguments_limit };
    seed.deserialize(&mut de).map_err(|e| BodyError(format!("JSON parsing error: {e}")))?;
    de.end().map_err(|e| BodyError(format!("JSON parsing error: {e}")))
}

struct Flatten<'a> {
    key: &'a mut String,
    out: &'a mut Collection,
    depth: usize,
    depth_limit: usize,
    limit: usize,
}

impl Flatten<'_> {
    fn add<E: de::Error>(self, value: Vec<u8>) -> Result<(), E> {
        if self.out.len() >= self.limit {
            return Err(E::custom(format!("more than {} arguments", self.limit)));
        }
        self.out.add(self.key.clone(), value);
        Ok(())
    }

    fn child(&mut self) -> Flatten<'_> {
        Flatten { key: self.key, out: self.out, depth: self.depth + 1, depth_limit: self.depth_limit, limit: self.limit }
    }

    fn enter<E: de::Error>(&self) -> Result<(), E> {
        if self.depth >= self.depth_limit {
            return Err(E::custom(format!("nesting deeper than {}", self.depth_limit)));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Flatten<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Flatten<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.add(v.to_string().into_bytes())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.add(v.to_string().into_bytes())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.add(v.to_string().into_bytes())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.add(v.to_string().into_bytes())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.add(v.as_bytes().to_vec())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.add(Vec::new())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.enter()?;
        while let Some(k) = map.next_key::<String>()? {
            let len = self.key.len();
            self.key.push('.');
            self.key.push_str(&k);
            map.next_value_seed(self.child())?;
            self.key.truncate(len);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.enter()?;
        let mut index = 0usize;
        loop {
            let len = self.key.len();
            self.key.push('.');
            self.key.push_str(&index.to_string());
            let more = seq.next_element_seed(self.child())?;
            self.key.truncate(len);
            if more.is_none() {
                break;
            }
            index += 1;
        }
        if index > 0 {
            self.add(index.to_string().into_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_in_document_order() {
        let mut c = Collection::default();
        parse(br#"{"z":{"b":1.5},"c":["x","y"],"d":null,"e":true}"#, 10, 100, &mut c).unwrap();
        let keys: Vec<&str> = c.entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["json.z.b", "json.c.0", "json.c.1", "json.c", "json.d", "json.e"]);
        assert_eq!(c.get("json.z.b"), Some(&b"1.5"[..]));
        assert_eq!(c.get("json.c"), Some(&b"2"[..]));
        assert_eq!(c.get("json.d"), Some(&b""[..]));
        assert_eq!(c.get("json.e"), Some(&b"true"[..]));
    }

    #[test]
    fn top_level_scalars_and_arrays() {
        let mut c = Collection::default();
        parse(br#"[{"a":1}]"#, 10, 100, &mut c).unwrap();
        assert_eq!(c.get("json.0.a"), Some(&b"1"[..]));
        let mut c = Collection::default();
        parse(br#""s""#, 10, 100, &mut c).unwrap();
        assert_eq!(c.get("json"), Some(&b"s"[..]));
    }

    #[test]
    fn errors_not_panics() {
        let mut c = Collection::default();
        assert!(parse(b"{\"a\":", 10, 100, &mut c).is_err());
        assert!(parse(b"{} trailing", 10, 100, &mut c).is_err());
        assert!(parse(b"[[[[[1]]]]]", 3, 100, &mut c).is_err());
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes(), 10_000, 100, &mut c).is_err());
        let mut c = Collection::default();
        assert!(parse(b"[1,2,3,4]", 10, 3, &mut c).is_err());
    }
}
