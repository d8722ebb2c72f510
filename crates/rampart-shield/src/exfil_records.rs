//! How many records a response carries: an app header, a JSON array's length, CSV lines.

use rampart_core::ResponseFacts;

use crate::exfil_settings::RecordCount;

/// The header an app may set with the number of records in a response.
pub const RECORD_COUNT_HEADER: &str = "x-record-count";

/// The records in `body`, counted as `how` says.
pub fn records(how: &RecordCount, resp: &ResponseFacts, body: &[u8]) -> u64 {
    let header = |name: &str| resp.headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    match how {
        RecordCount::Header(name) => header(name.as_str()).unwrap_or(1),
        RecordCount::Json => json_records(body),
        RecordCount::Csv => csv_records(body),
        RecordCount::Auto => {
            if let Some(n) = header(RECORD_COUNT_HEADER) {
                return n;
            }
            let ct = resp.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
            if ct.contains("json") {
                json_records(body)
            } else if ct.contains("csv") {
                csv_records(body)
            } else {
                u64::from(!body.is_empty())
            }
        }
    }
}

/// A top-level array's length; for an object, its largest array value (`{"contacts": [...]}`);
/// 1 for any other JSON, 0 for an empty body.
fn json_records(body: &[u8]) -> u64 {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(a)) => a.len() as u64,
        Ok(serde_json::Value::Object(o)) => {
            o.values().filter_map(|v| v.as_array()).map(|a| a.len() as u64).max().unwrap_or(1)
        }
        Ok(_) => 1,
        Err(_) => u64::from(!body.is_empty()),
    }
}

/// Non-empty lines less the header line. Quoted fields with line breaks count extra: an
/// overestimate, on the safe side.
fn csv_records(body: &[u8]) -> u64 {
    let lines = body.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count() as u64;
    lines.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};

    fn resp(headers: &[(&'static str, &'static str)]) -> ResponseFacts {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        ResponseFacts { status: StatusCode::OK, headers: h }
    }

    #[test]
    fn counts_by_content_type_or_header() {
        let json = resp(&[("content-type", "application/json")]);
        assert_eq!(records(&RecordCount::Auto, &json, b"[1,2,3]"), 3);
        assert_eq!(records(&RecordCount::Auto, &json, br#"{"total":9,"contacts":[{},{}],"x":[1]}"#), 2);
        let csv = resp(&[("content-type", "text/csv; charset=utf-8")]);
        assert_eq!(records(&RecordCount::Auto, &csv, b"id,name\r\n1,a\r\n2,b\r\n\r\n"), 2);
        assert_eq!(records(&RecordCount::Auto, &resp(&[("content-type", "text/html")]), b"<p>one</p>"), 1);
        let told = resp(&[("content-type", "text/html"), ("x-record-count", "50")]);
        assert_eq!(records(&RecordCount::Auto, &told, b"<table>"), 50);
        assert_eq!(records(&RecordCount::Header("x-n".parse().unwrap()), &resp(&[("x-n", "7")]), b""), 7);
        assert_eq!(records(&RecordCount::Csv, &json, b"h\n1\n2\n3"), 3);
    }
}
