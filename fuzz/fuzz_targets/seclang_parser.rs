//! SecLang text → `rampart_waf::Builder::load_str`, then `build`. Load errors are expected;
//! a panic is a bug.
//!
//! Inputs that would make the loader read files (`Include`, `@pmFromFile`, `@ipMatchFromFile`
//! and their short names) are skipped: a fuzzed path such as `/dev/stdin` or `/*` would block
//! or wander the file system, which is not the parser's behaviour under test.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// Substrings (lowercase) of the directives and operators that read files.
const READS_FILES: &[&str] = &["include", "fromfile", "@pmf", "@ipmatchf"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lower = text.to_ascii_lowercase();
    if READS_FILES.iter().any(|s| lower.contains(s)) {
        return;
    }
    let mut builder = rampart_waf::Builder::new();
    if builder.load_str(&text, None).is_ok() {
        let _ = builder.build();
    }
});
