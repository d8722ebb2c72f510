//! Every operator the OWASP CRS v4 uses must build: each `SecRule` in
//! `shared/crs/rules/*.conf` is read (continuation lines joined), its operator string taken
//! from the second argument and handed to `rampart_waf::operator::build` with the rules
//! directory as `base_dir` (so `@pmFromFile` finds the `.data` files). This is what proves the
//! CRS regexes are accepted by the linear-time engine, with no PCRE-only construct in them.
//!
//! Data is read from `$RAMPART_SHARED`, else `<crate>/../../../shared`, never copied.

use std::path::PathBuf;

use rampart_waf::operator;

fn shared_dir() -> PathBuf {
    match std::env::var_os("RAMPART_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

/// Join `\`-continued lines into logical directives.
fn directives(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

/// Split off one argument: a double-quoted string (with `\"` unescaped, other backslashes kept,
/// as ModSecurity's parser does for operator strings) or a bare word.
fn argument(text: &str) -> Option<(String, &str)> {
    let text = text.trim_start();
    if let Some(rest) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, '"')) => value.push('"'),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => value.push('\\'),
                },
                '"' => return Some((value, &rest[i + 1..])),
                other => value.push(other),
            }
        }
        None
    } else {
        let end = text.find(char::is_whitespace).unwrap_or(text.len());
        Some((text[..end].to_string(), &text[end..]))
    }
}

#[test]
fn every_crs_operator_builds() {
    let rules = shared_dir().join("crs/rules");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&rules)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (set RAMPART_SHARED)", rules.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();

    let (mut built, mut failures) = (0usize, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for directive in directives(&text) {
            let Some(rest) = directive.strip_prefix("SecRule ") else { continue };
            let Some((_variables, rest)) = argument(rest) else { continue };
            let Some((op, _)) = argument(rest) else {
                failures.push(format!("{}: cannot split `{directive:.80}`", file.display()));
                continue;
            };
            let op = op.strip_prefix('!').unwrap_or(&op);
            let (name, param) = match op.strip_prefix('@') {
                Some(body) => {
                    let end = body.find(char::is_whitespace).unwrap_or(body.len());
                    (&body[..end], body[end..].trim())
                }
                None => ("rx", op),
            };
            match operator::build(name, param, Some(&rules)) {
                Ok(_) => built += 1,
                Err(e) => failures.push(format!("{}: {e}", file.file_name().map(|f| f.to_string_lossy()).unwrap_or_default())),
            }
        }
    }
    println!("crs operators: {built} built, {} failed", failures.len());
    for f in failures.iter().take(40) {
        println!("  {f}");
    }
    assert!(built > 500, "found only {built} CRS operators in {}", rules.display());
    assert!(failures.is_empty(), "{} CRS operators failed to build", failures.len());
}

/// Every `t:` transformation the CRS names resolves (`t:none` is a directive, not a function).
#[test]
fn every_crs_transformation_resolves() {
    let rules = shared_dir().join("crs/rules");
    let mut missing = Vec::new();
    let mut seen = 0usize;
    let entries = std::fs::read_dir(&rules).unwrap_or_else(|e| panic!("cannot read {}: {e}", rules.display()));
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.extension() != Some(std::ffi::OsStr::new("conf")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            for (at, _) in line.match_indices("t:") {
                // Only an action: preceded by `"`, `,`, whitespace or the line start.
                if !matches!(line[..at].chars().last(), None | Some('"' | ',' | ' ' | '\t')) {
                    continue;
                }
                let name: String = line[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                seen += 1;
                if !name.eq_ignore_ascii_case("none") && rampart_waf::transform::lookup(&name).is_none() {
                    missing.push(name);
                }
            }
        }
    }
    assert!(seen > 700, "found only {seen} transformations in the CRS");
    assert!(missing.is_empty(), "CRS transformations not found: {missing:?}");
}
