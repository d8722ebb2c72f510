//! Bytes → every transformation in `rampart_waf::transform::names()`, then a handful of
//! operators built from a fuzzed parameter and evaluated on fuzzed input.
//!
//! The input's first line (up to the first `\n`, at most 256 bytes) is the operator parameter;
//! the rest is the value. Every transformation gets the whole input. Build errors are
//! expected; a panic is a bug.

#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use rampart_waf::operator::{self, OperatorContext};
use rampart_waf::transform;

/// The longest operator parameter tried, in bytes.
const MAX_PARAM: usize = 256;

/// Operators whose parameter is parsed at build time (patterns, lists, ranges, numbers).
const OPERATORS: &[&str] = &[
    "rx", "rxGlobal", "pm", "streq", "beginsWith", "endsWith", "contains", "containsWord", "within",
    "strmatch", "eq", "lt", "validateByteRange", "ipMatch", "verifyCC", "verifySSN", "detectSQLi", "detectXSS",
    "validateUrlEncoding", "validateUtf8Encoding",
];

/// No macros, captures on (so `@rx` walks its groups).
struct Ctx;

impl OperatorContext for Ctx {
    fn expand<'a>(&self, text: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(text)
    }
    fn capturing(&self) -> bool {
        true
    }
    fn set_capture(&mut self, _index: usize, _value: &[u8]) {}
}

fuzz_target!(|data: &[u8]| {
    for name in transform::names() {
        let f = transform::lookup(name).expect("a listed transformation is found");
        let once = f(data);
        // Chains apply transformations to each other's output: a second pass must hold too.
        let _ = f(&once);
    }
    let (param, value) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    // Long patterns make every input a regex compilation; the parser's own fuzzing
    // (`seclang_parser`) covers those. Short ones keep the operators' evaluation in reach.
    let param = String::from_utf8_lossy(&param[..param.len().min(MAX_PARAM)]);
    for name in OPERATORS {
        if let Ok(op) = operator::build(name, param.trim(), None) {
            let _ = op.evaluate(&mut Ctx, value);
        }
    }
});
