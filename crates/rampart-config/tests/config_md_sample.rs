//! The sample in /work/shared/docs/CONFIG.md (our own design sketch, copied verbatim): it
//! parses, except for the files it names that do not exist here — and one real mistake in
//! it, which the checker catches.

use rampart_config::{parse, ErrorKind};

const SAMPLE: &str = r#"[server]
trusted_proxies = ["127.0.0.1/32", "10.0.0.0/8"]  # client address taken from these peers' headers only
client_address = "x-forwarded-for"                 # or "forwarded", "proxy-protocol", "peer"

[[listener]]
address = "0.0.0.0:443"
tls = { cert = "/etc/rampart/site.pem", key = "/etc/rampart/site.key" }   # several [[listener.tls_sni]] allowed
http2 = true

[[listener]]
address = "[::]:80"

[limits]
header_read_timeout = "10s"
body_min_rate = "1KiB/s"
idle_timeout = "60s"
max_request_line = "8KiB"
max_header_bytes = "32KiB"
max_headers = 100
max_body = "10MiB"
max_connections = 20000
max_connections_per_client = 64
max_connections_per_prefix = 512          # per /24 (IPv4) and /64 (IPv6)

[[upstream]]
name = "app"
servers = ["127.0.0.1:9100", "127.0.0.1:9101"]
balance = "least_conn"                   # or "round_robin"
connect_timeout = "2s"
read_timeout = "30s"
health = { path = "/healthz", interval = "5s" }

[[route]]
host = "campaign.example.org"            # optional; any host when absent
path = "/"
upstream = "app"

[[route]]
path = "/contacts"
upstream = "app"
sensitive = true                          # audited access, exfiltration budgets apply

# Who gets served first when capacity is short. First match wins; unmatched = "public".
[[priority]]
class = "staff"
networks = ["198.51.100.0/24"]

[[priority]]
class = "staff"
cookie = "session"
verify = { jwt_hs256_key_file = "/etc/rampart/session.key" }

[access]
deny = ["192.0.2.0/24"]
deny_files = ["/etc/rampart/spamhaus-drop.txt"]
allow = []                                # always let in, skip every other stage

[[rate_limit]]
key = "client"                            # or "prefix", "route", "header:X-Api-Key", "cookie:session"
rate = "20/s"
burst = 40
action = "throttle"                       # or "block", "challenge"

[flood]
enabled = true
sensitivity = "high"                      # how far from the baseline counts as an attack
challenge_difficulty = "auto"

[[login]]
path = "/login"
username_field = "username"
failure = { status = 401 }                # or { redirect = "/login?failed" } or { body = "invalid" }

[[exfiltration]]
route = "/contacts"
identity = "staff:session|client"
budget = { records = 500, bytes = "5MiB", per = "10m" }

[waf]
rules = ["/usr/share/modsecurity-crs/crs-setup.conf", "/usr/share/modsecurity-crs/rules/*.conf"]
paranoia = 1
mode = "block"                            # or "detect"

[state]
backend = "memory"                        # or "redis"
memory_ceiling = "256MiB"
# redis = { url = "redis://127.0.0.1:6379", sync_interval = "100ms" }

[audit]
dir = "/var/lib/rampart/audit"
signing_key = "/etc/rampart/audit.key"

[admin]
address = "127.0.0.1:9090"
token_file = "/etc/rampart/admin.token"

mode = "enforce"                          # top level: or "detect" — record verdicts, enforce nothing
"#;

fn origin() -> &'static std::path::Path {
    std::path::Path::new("/etc/rampart/rampart.toml")
}

/// How many of the files the sample names are missing on this machine: each missing one is an
/// error. (Debian's `modsecurity-crs`, which the test command installs, provides the rules.)
fn missing_files() -> usize {
    let plain = [
        "/etc/rampart/site.pem",
        "/etc/rampart/site.key",
        "/etc/rampart/session.key",
        "/etc/rampart/spamhaus-drop.txt",
        "/usr/share/modsecurity-crs/crs-setup.conf",
        "/etc/rampart/audit.key",
        "/etc/rampart/admin.token",
    ];
    let rules_glob_matches = std::fs::read_dir("/usr/share/modsecurity-crs/rules")
        .map(|d| d.filter_map(Result::ok).any(|e| e.path().extension().is_some_and(|x| x == "conf")))
        .unwrap_or(false);
    plain.iter().filter(|p| !std::path::Path::new(p).is_file()).count() + usize::from(!rules_glob_matches)
}

#[test]
fn sample_reports_only_missing_files_and_the_misplaced_mode() {
    let errors = parse(SAMPLE, origin()).expect_err("the named files do not exist here");
    let text = errors.to_string();
    // In TOML a key after `[admin]` belongs to [admin]: the sample's last line is
    // `admin.mode`, not the top-level mode it means. Reported with a hint to move it.
    let misplaced: Vec<_> = errors.iter().filter(|e| e.kind == ErrorKind::UnknownKey).collect();
    assert_eq!(misplaced.len(), 1, "{text}");
    assert_eq!(misplaced[0].line, 97, "the last line of the sample");
    assert!(misplaced[0].message.contains("`mode` is a top-level key"), "{text}");
    let files: Vec<_> = errors.iter().filter(|e| e.kind == ErrorKind::File).collect();
    // site.pem, site.key, session.key, spamhaus-drop.txt, crs-setup.conf, rules/*.conf,
    // audit.key, admin.token: whichever of them this machine lacks.
    let missing = missing_files();
    assert_eq!(files.len(), missing, "{text}");
    assert_eq!(errors.len(), missing + 1, "{text}");
    if !std::path::Path::new("/etc/rampart/site.pem").exists() {
        assert!(files.iter().any(|e| e.line == 7 && e.message.contains("/etc/rampart/site.pem")), "{text}");
    }
}

#[test]
fn sample_with_mode_moved_to_the_top_reports_only_missing_files() {
    let body = SAMPLE.replace("\nmode = \"enforce\"", "\n# mode moved");
    let fixed = format!("mode = \"detect\"\n{body}");
    let missing = missing_files();
    match parse(&fixed, origin()) {
        Ok(_) => assert_eq!(missing, 0, "every named file exists, so the sample is valid"),
        Err(errors) => {
            assert!(errors.iter().all(|e| e.kind == ErrorKind::File), "{errors}");
            assert_eq!(errors.len(), missing, "{errors}");
        }
    }
}
