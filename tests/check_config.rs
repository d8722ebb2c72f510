//! `rampart check-config`: every mistake at once as `file:line:column: message`, exit 1; a
//! valid file, exit 0. `rampart run` refuses the same broken file.

mod common;

use std::process::Command;

use common::{temp_dir, write_file};

const BROKEN: &str = r#"mode = "detetc"

[server]
client_address = "x-forwarded"

[[listener]]
address = "127.0.0.1:18080"

[[listener]]
address = "127.0.0.1:18080"

[limits]
header_read_timeout = "10"

[[upstream]]
name = "app"
servers = ["127.0.0.1:9100"]

[[route]]
path = "/"
upstream = "ap"

[[rate_limit]]
rate = "10/s"
burts = 5
"#;

/// Mistakes in `BROKEN`: a piece of the offending line, and words the message must contain.
const MISTAKES: &[(&str, &str)] = &[
    ("mode = \"detetc\"", "detetc"),
    ("client_address = \"x-forwarded\"", "x-forwarded"),
    ("header_read_timeout = \"10\"", "duration"),
    ("upstream = \"ap\"", "ap"),
    ("burts = 5", "burts"),
];

fn check(path: &std::path::Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart")).arg("check-config").arg(path).output().expect("run check-config");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn line_of(text: &str, piece: &str) -> usize {
    text.lines().position(|l| l.contains(piece)).unwrap_or_else(|| panic!("`{piece}` not in the file")) + 1
}

#[test]
fn a_broken_file_gets_every_error_with_its_position() {
    let dir = temp_dir();
    let path = write_file(dir.path(), "broken.toml", BROKEN);
    let (code, _stdout, stderr) = check(&path);
    assert_eq!(code, Some(1), "{stderr}");
    let file = path.display().to_string();
    let errors: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    // Every line is `file:line:column: message`.
    for e in &errors {
        let rest = e.strip_prefix(&format!("{file}:")).unwrap_or_else(|| panic!("not `file:line:column: message`: {e}"));
        let mut parts = rest.splitn(3, ':');
        let line: usize = parts.next().unwrap().parse().unwrap_or_else(|_| panic!("no line number: {e}"));
        let column: usize = parts.next().unwrap_or("").parse().unwrap_or_else(|_| panic!("no column: {e}"));
        let message = parts.next().unwrap_or("");
        assert!(line >= 1 && column >= 1 && message.starts_with(' ') && message.len() > 1, "{e}");
    }
    for (piece, words) in MISTAKES {
        let line = line_of(BROKEN, piece);
        let prefix = format!("{file}:{line}:");
        assert!(
            errors.iter().any(|e| e.starts_with(&prefix) && e.contains(words)),
            "no error for line {line} (`{piece}`) mentioning `{words}`:\n{stderr}"
        );
    }
    // The listener address given twice is reported at the second one.
    let second = BROKEN.lines().enumerate().filter(|(_, l)| l.contains("127.0.0.1:18080")).nth(1).unwrap().0 + 1;
    assert!(errors.iter().any(|e| e.starts_with(&format!("{file}:{second}:"))), "duplicate listener not reported:\n{stderr}");
    assert!(errors.len() > MISTAKES.len(), "{stderr}");
}

#[test]
fn run_refuses_the_same_broken_file() {
    let dir = temp_dir();
    let path = write_file(dir.path(), "broken.toml", BROKEN);
    let out = Command::new(env!("CARGO_BIN_EXE_rampart")).arg("run").arg("--config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let burts = format!("{}:{}:", path.display(), line_of(BROKEN, "burts"));
    assert!(stderr.contains(&burts), "{stderr}");
}

#[test]
fn a_valid_file_passes() {
    let dir = temp_dir();
    write_file(dir.path(), "deny.txt", "; Spamhaus DROP\n192.0.2.0/24 ; SBL1\n");
    let path = write_file(
        dir.path(),
        "rampart.toml",
        r#"mode = "enforce"

[server]
trusted_proxies = ["127.0.0.1/32"]
client_address = "x-forwarded-for"

[[listener]]
address = "127.0.0.1:18080"

[[upstream]]
name = "app"
servers = ["127.0.0.1:9100", "127.0.0.1:9101"]
balance = "least_conn"
health = { path = "/healthz", interval = "5s" }

[[route]]
path = "/"
upstream = "app"

[access]
deny_files = ["deny.txt"]

[[rate_limit]]
rate = "10/s"
burst = 20
ban = { after = 5, duration = "10m" }
"#,
    );
    let (code, stdout, stderr) = check(&path);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains(": ok ("), "{stdout}");
    assert!(stderr.trim().is_empty(), "{stderr}");
}

#[test]
fn a_missing_file_is_an_error() {
    let dir = temp_dir();
    let (code, _, stderr) = check(&dir.path().join("absent.toml"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("absent.toml"), "{stderr}");
}

/// Port 0 asks the system for any free port: two listeners (and the admin listener) on
/// `127.0.0.1:0` each get their own, so they are not duplicates.
#[test]
fn ephemeral_ports_are_not_duplicate_addresses() {
    let dir = temp_dir();
    write_file(dir.path(), "admin.token", "t0ken\n");
    let path = write_file(
        dir.path(),
        "rampart.toml",
        "[[listener]]\naddress = \"127.0.0.1:0\"\n\n[[listener]]\naddress = \"127.0.0.1:0\"\nhttp2 = false\n\n\
         [[upstream]]\nname = \"app\"\nservers = [\"127.0.0.1:9100\"]\n\n\
         [admin]\naddress = \"127.0.0.1:0\"\ntoken_file = \"admin.token\"\n",
    );
    let (code, stdout, stderr) = check(&path);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
}

/// A memory ceiling too small for the ban list is said once, with both figures, not as a
/// budget of 0 from every rate limit.
#[test]
fn a_memory_ceiling_below_the_ban_list_is_said_plainly() {
    let dir = temp_dir();
    let path = write_file(
        dir.path(),
        "rampart.toml",
        "[[listener]]\naddress = \"127.0.0.1:18081\"\n\n[[upstream]]\nname = \"app\"\nservers = [\"127.0.0.1:9100\"]\n\n\
         [[rate_limit]]\nrate = \"10/s\"\n\n[[rate_limit]]\nkey = \"prefix\"\nrate = \"100/s\"\n\n[state]\nmemory_ceiling = \"4MiB\"\n",
    );
    let (code, stdout, stderr) = check(&path);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let said: Vec<&str> = stderr.lines().filter(|l| l.contains("memory_ceiling")).collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(said[0].contains("memory_ceiling (4096 KiB)") && said[0].contains("the ban list"), "{stderr}");
}
