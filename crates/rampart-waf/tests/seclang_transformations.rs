//! Conformance walker: runs every transformation case of the secrules-language-tests
//! (`shared/seclang-tests/transformations/*.json`) through `rampart_waf::transform::lookup`.
//!
//! The data is read from the shared folder, never copied: `$RAMPART_SHARED`, else
//! `<crate>/../../../shared` (the repo is cloned beside `shared/`). Records are
//! `{name, input, output, ret}`; `input`/`output` are decoded like ModSecurity's unit runner
//! (`json2bin`: `\xHH` then `\uHHHH` become single bytes).

use std::path::PathBuf;

use rampart_waf::transform;

/// Transformations the suite names that we deliberately do not provide (name, reason).
const NOT_IMPLEMENTED: &[(&str, &str)] = &[];

/// Cases that fail on purpose (name, input as written in the JSON, reason).
const KNOWN_DIVERGENCES: &[(&str, &str, &str)] = &[(
    "cssDecode",
    "test\\a\\b\\f\\n\\r\\t\\v\\?\\'\\\"\\\u{0}\\12\\123\\1234\\12345\\123456\\ff01\\ff5e\\\n\\\u{0}  string",
    "the expected output was made by ModSecurity's runner, which reads JSON strings as C strings and \
     so cut both input and output at the first JSON `\\u0000`; on the full input ModSecurity's own \
     algorithm (as ours) keeps both spaces before `string`, the file expects one",
)];

/// The suite spells one name the way ModSecurity's source file is named, not as SecLang does.
fn seclang_name(name: &str) -> &str {
    match name {
        "cmd_line" => "cmdLine",
        other => other,
    }
}

fn shared_dir() -> PathBuf {
    match std::env::var_os("RAMPART_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

/// ModSecurity's `json2bin`: `\xHH` (two alphanumerics, parsed like `sscanf("%x")`, which keeps
/// the previous value when nothing parses) and then `\uHHHH` (low byte) become raw bytes.
fn json2bin(text: &str) -> Vec<u8> {
    fn pass(input: &[u8], marker: u8, digits: usize, last: &mut u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        let mut i = 0;
        while i < input.len() {
            let esc = input.get(i + 2..i + 2 + digits);
            if input[i] == b'\\'
                && input.get(i + 1) == Some(&marker)
                && esc.is_some_and(|d| d.iter().all(u8::is_ascii_alphanumeric))
            {
                let d = esc.unwrap_or_default();
                let hex: String = d.iter().take_while(|c| c.is_ascii_hexdigit()).map(|&c| c as char).collect();
                if let Ok(v) = u32::from_str_radix(&hex, 16) {
                    *last = v as u8;
                }
                out.push(*last);
                i += 2 + digits;
            } else {
                out.push(input[i]);
                i += 1;
            }
        }
        out
    }
    let mut last = 0u8;
    let once = pass(text.as_bytes(), b'x', 2, &mut last);
    pass(&once, b'u', 4, &mut last)
}

fn shown(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string().chars().take(120).collect()
}

#[test]
fn secrules_language_tests_transformations() {
    let dir = shared_dir().join("seclang-tests/transformations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (set RAMPART_SHARED)", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();

    let (mut passed, mut failed, mut not_implemented) = (0usize, 0usize, 0usize);
    let mut unexpected = Vec::new();
    let mut report = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in cases {
            let field = |k: &str| case.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let (name, input, output) = (field("name"), field("input"), field("output"));
            let Some(f) = transform::lookup(seclang_name(&name)) else {
                if NOT_IMPLEMENTED.iter().any(|(n, _)| *n == name) {
                    not_implemented += 1;
                } else {
                    failed += 1;
                    unexpected.push(format!("unknown transformation `{name}` (not on NOT_IMPLEMENTED)"));
                }
                continue;
            };
            let raw = json2bin(&input);
            let got = f(&raw);
            let want = json2bin(&output);
            if *got == *want {
                passed += 1;
                continue;
            }
            failed += 1;
            let line = format!("  {name}({}) = {} , want {}", shown(&raw), shown(&got), shown(&want));
            if KNOWN_DIVERGENCES.iter().any(|(n, i, _)| *n == name && *i == input) {
                report.push(format!("{line}  [known divergence]"));
            } else {
                report.push(line.clone());
                unexpected.push(line);
            }
        }
    }

    println!("secrules-language-tests: {passed} passed, {failed} failed, {not_implemented} not implemented");
    for line in report.iter().take(40) {
        println!("{line}");
    }
    let implemented = passed + failed;
    assert!(implemented > 0, "no transformation cases found in {}", dir.display());
    assert!(
        passed * 100 >= implemented * 98,
        "pass rate {passed}/{implemented} is below 98%"
    );
    assert!(unexpected.is_empty(), "failures not on KNOWN_DIVERGENCES:\n{}", unexpected.join("\n"));
}
