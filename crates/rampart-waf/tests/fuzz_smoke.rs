//! The WAF's fuzz targets (`fuzz/fuzz_targets/seclang_parser.rs`, `transformations.rs`) on
//! stable: a seeded, deterministic mutator (no new dependency) throws ~20,000 mutated SecLang
//! texts at `Builder::load_str` + `build`, and mutated bytes at every transformation and a few
//! operators. Load errors are expected; a panic fails the test and prints the input.
//!
//! The SecLang seeds are the OWASP CRS rules in the shared data directory (`RAMPART_SHARED`,
//! else `../../../shared` from this crate), one directive (or chain) per seed, plus a few
//! inline rules for the directives the CRS does not use. Without the shared directory the test
//! fails: it must not pass by testing nothing.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rampart_waf::operator::{self, OperatorContext};
use rampart_waf::{transform, Builder};

/// SecLang tokens spliced in whole: quoting, continuations, actions, operators, macros.
const DICTIONARY: &[&[u8]] = &[
    b"\\\n", b"\n", b"\"", b"\\\"", b"'", b",", b":", b"|", b"!", b"&", b"@", b"%{", b"}", b"%{tx.", b"\0",
    b"SecRule ", b"SecAction ", b"SecMarker ", b"SecDefaultAction ", b"SecRuleRemoveById ",
    b"SecRuleUpdateTargetById ", b"SecRuleUpdateActionById ", b"SecRuleRemoveByTag ", b"SecRuleEngine ",
    b"ARGS", b"ARGS:", b"REQUEST_HEADERS:", b"TX:", b"&TX:", b"!ARGS:", b"XML:/*", b"/^x$/", b"MATCHED_VARS",
    b"@rx ", b"@pm ", b"@streq ", b"@within ", b"@ipMatch ", b"@eq ", b"@validateByteRange ", b"@detectSQLi",
    b"id:", b"phase:", b"chain", b"t:", b"t:none", b"setvar:", b"setvar:tx.a=+", b"ctl:", b"ctl:ruleRemoveTargetById=",
    b"skipAfter:", b"skip:", b"msg:'", b"tag:'", b"capture", b"multiMatch", b"expirevar:", b"initcol:ip=",
    b"deny", b"block", b"pass", b"status:", b"logdata:'", b"ver:'", b"severity:", b"=+", b"=-", b"99999999999999999999",
    b"-1", b"0", b"(?i)", b"(?<!", b"(?=", b"\\1", b"[", b"]", b"(", b")", b"{", b"\\x{ff}", b"*", b"+?",
];

/// Directives and operators that read files: skipped, since a mutated path could name
/// `/dev/stdin` or a whole directory tree (data files the CRS names still resolve, against
/// the CRS rules directory).
const READS_FILES: &[&str] = &["include"];

/// Inline rules for what the CRS does not exercise.
const INLINE_SEEDS: &[&str] = &[
    "SecRuleEngine On\nSecRequestBodyAccess On\nSecDefaultAction \"phase:2,log,auditlog,pass\"",
    "SecRule ARGS:q \"@rx evil\" \"id:1,phase:1,deny,status:403,t:lowercase,t:urlDecodeUni\"",
    "SecRule REQUEST_HEADERS:User-Agent \"@pm nikto sqlmap\" \"id:2,phase:1,block,capture,setvar:tx.score=+5,chain\"\n    SecRule TX:0 \"!@streq %{tx.allowed}\" \"t:none\"",
    "SecAction \"id:3,phase:1,nolog,pass,setvar:tx.a=1,expirevar:tx.a=60,initcol:ip=%{remote_addr}\"",
    "SecMarker END\nSecRule &ARGS \"@gt 10\" \"id:4,phase:2,skipAfter:END,ctl:ruleRemoveById=1\"",
    "SecRuleRemoveById 1 2-5\nSecRuleUpdateTargetById 4 \"!ARGS:foo\"\nSecRuleUpdateActionById 1 \"pass\"",
    "SecRule XML:/* \"@validateByteRange 1-255\" \"id:5,phase:2,multiMatch,t:none,t:removeNulls,msg:'x %{MATCHED_VAR}'\"",
    "SecRule REMOTE_ADDR \"@ipMatch 10.0.0.0/8,2001:db8::/32\" \"id:6,phase:1,allow,ctl:ruleEngine=DetectionOnly\"",
    "SecRule ARGS_NAMES|!ARGS_NAMES:/^x$/ \"@detectSQLi\" \"id:7,phase:2,deny,logdata:'%{TX.0}',tag:'a',ver:'1'\"",
];

/// Byte strings for the transformations: encodings each decoder handles, half-finished.
const TRANSFORM_SEEDS: &[&[u8]] = &[
    b"%3Cscript%3Ealert(1)%3C/script%3E", b"%u0041%uFF1C%u00", b"&#x3c;&lt;&#60&quot", b"\\u0041\\x41\\101\\",
    b"/a/./b/../../c//d\\..\\e", b"SELECT/*x*/1--\n#c\n/*", b"0x414243", b"QUJD\n-_=", b"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff",
    b"c^m\\d ,;  /c  echo", b"a[b][c]=1&d[=2", b"  \t\x0b\x0cx\r\n ", b"\\41 \\3c\\", b"\0\0a\0",
];

/// xorshift64*: a reproducible stream of choices.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A seed, changed by one to four mutations.
    fn mutate(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut out = seeds[self.below(seeds.len())].clone();
        for _ in 0..1 + self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(8) {
                0 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] ^= 1 << self.below(8);
                }
                1 => out.insert(at, self.next() as u8),
                2 => {
                    let token = DICTIONARY[self.below(DICTIONARY.len())];
                    out.splice(at..at, token.iter().copied());
                }
                3 if at < out.len() => {
                    let end = (at + 1 + self.below(16)).min(out.len());
                    out.drain(at..end);
                }
                4 if at < out.len() => {
                    let end = (at + 1 + self.below(32)).min(out.len());
                    let copy = out[at..end].to_vec();
                    let to = self.below(out.len() + 1);
                    out.splice(to..to, copy);
                }
                5 => out.truncate(at),
                6 => {
                    let other = &seeds[self.below(seeds.len())];
                    let from = self.below(other.len() + 1);
                    out.splice(at..at, other[from..].iter().take(128).copied());
                }
                _ => {
                    let b = [b'9', b'a', b' ', b'\xff', b'\\', b'"', b'%', b'('][self.below(8)];
                    let n = 1 + self.below(64);
                    out.splice(at..at, vec![b; n]);
                }
            }
        }
        out
    }
}

fn crs_rules_dir() -> PathBuf {
    let shared = match std::env::var_os("RAMPART_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let rules = shared.join("crs/rules");
    assert!(
        rules.is_dir(),
        "the shared data directory with the OWASP CRS is missing ({} not found): set RAMPART_SHARED \
         to the directory that holds crs/rules/*.conf",
        rules.display()
    );
    rules
}

/// Each CRS file split into its directives (continuations kept), a chain kept whole.
fn crs_seeds(rules: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(rules)
        .unwrap_or_else(|e| panic!("{}: {e}", rules.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no CRS rule files in {}", rules.display());
    let mut seeds = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut group = String::new();
        let mut directive = String::new();
        for line in text.lines() {
            if directive.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
                continue;
            }
            directive.push_str(line);
            directive.push('\n');
            if line.trim_end().ends_with('\\') {
                continue;
            }
            // A chain's links follow it: keep them together so the seed is a whole rule.
            let opens_chain = directive.contains("chain");
            group.push_str(&std::mem::take(&mut directive));
            if !opens_chain {
                seeds.push(std::mem::take(&mut group).into_bytes());
            }
        }
        if !group.is_empty() {
            seeds.push(group.into_bytes());
        }
    }
    seeds
}

/// Run `target` on every seed and then `iterations` mutated inputs; on a panic, name the input.
fn drive(name: &str, seeds: &[Vec<u8>], iterations: usize, seed: u64, mut target: impl FnMut(&[u8])) {
    let started = Instant::now();
    let mut m = Mutator(seed);
    let inputs = seeds.iter().cloned().chain((0..iterations).map(|_| m.mutate(seeds)));
    let mut count = 0;
    for (i, input) in inputs.enumerate() {
        let run = std::panic::AssertUnwindSafe(|| target(&input));
        if let Err(panic) = std::panic::catch_unwind(run) {
            let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{name}: input {i} panicked ({message:?}); input: {:?}", String::from_utf8_lossy(&input));
        }
        count += 1;
    }
    println!("{name}: {count} inputs ({} seeds) in {:.1?}", seeds.len(), started.elapsed());
}

#[test]
fn seclang_loader_never_panics_on_mutated_rules() {
    let rules = crs_rules_dir();
    let mut seeds = crs_seeds(&rules);
    seeds.extend(INLINE_SEEDS.iter().map(|s| s.as_bytes().to_vec()));
    let (mut loaded, mut refused) = (0usize, 0usize);
    drive("seclang", &seeds, 20_000, 0x5EC1_0001, |data| {
        let text = String::from_utf8_lossy(data);
        let lower = text.to_ascii_lowercase();
        if READS_FILES.iter().any(|s| lower.contains(s)) {
            return;
        }
        let mut builder = Builder::new();
        match builder.load_str(&text, Some(&rules)).map(|_| ()) {
            Ok(()) if builder.build().is_ok() => loaded += 1,
            _ => refused += 1,
        }
    });
    println!("seclang: {loaded} loaded and built, {refused} refused with a load error");
    assert!(loaded > 1_000, "only {loaded} inputs loaded: the mutations no longer reach the compiler");
}

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

/// The longest operator parameter tried, in bytes.
const MAX_PARAM: usize = 256;

/// Operators whose parameter is parsed at build time, as in `fuzz_targets/transformations.rs`.
const OPERATORS: &[&str] = &[
    "rx", "rxGlobal", "pm", "streq", "beginsWith", "endsWith", "contains", "containsWord", "within",
    "strmatch", "eq", "lt", "validateByteRange", "ipMatch", "verifyCC", "verifySSN", "detectSQLi", "detectXSS",
    "validateUrlEncoding", "validateUtf8Encoding",
];

#[test]
fn transformations_and_operators_never_panic_on_mutated_bytes() {
    let names: Vec<&str> = transform::names().collect();
    assert!(names.len() > 30, "only {} transformations listed", names.len());
    let seeds: Vec<Vec<u8>> = TRANSFORM_SEEDS.iter().map(|s| s.to_vec()).collect();
    drive("transformations", &seeds, 20_000, 0x5EC1_0002, |data| {
        for name in &names {
            let f = transform::lookup(name).expect("a listed transformation is found");
            let once = f(data);
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
}
