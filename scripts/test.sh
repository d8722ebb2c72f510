#!/usr/bin/env bash
# The one test command (README, CI): installs what the tests drive, then runs every test of
# the workspace with cargo-nextest. Safe to run again: installs are skipped when present.
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -E 'test(/slow/)'   # extra arguments go to nextest
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "scripts/test.sh: need root (or sudo) to install: $*" >&2; exit 1; fi
}

# Debian packages the tests use: slowhttptest (slow-attack tests), modsecurity-crs.
need=()
command -v slowhttptest >/dev/null || need+=(slowhttptest)
command -v curl >/dev/null || need+=(curl)
command -v hydra >/dev/null || need+=(hydra)   # tests/login_guard.rs
# The challenge tests: a real browser (Debian's Chromium, driven by playwright-core from npm),
# and wrk as the scripted client that must not get through.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v wrk >/dev/null || need+=(wrk)
command -v npm >/dev/null || need+=(nodejs npm)
# modsecurity-crs (CRS 3.3.x, crates/rampart-waf/tests/debian_crs.rs) provides no command.
[ -f /usr/share/modsecurity-crs/rules/REQUEST-901-INITIALIZATION.conf ] || need+=(modsecurity-crs)
if [ ${#need[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${need[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# The external conformance suites live beside the repository (../shared); tests read them
# from there and fail loudly if they are missing.
if [ -z "${RAMPART_SHARED:-}" ] && [ ! -d ../shared ]; then
    echo "scripts/test.sh: ../shared (CRS, seclang-tests, modsecurity-regression) not found; set RAMPART_SHARED" >&2
    exit 1
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "==> installing playwright-core (npm) for the browser tests"
    (cd tests/browser && npm ci --no-audit --no-fund)
fi

# The OASIS STIX 2.1 validator (PyPI stix2-validator) that tests/incident_report.rs runs on every
# bundle it makes: in a venv under target/, so the system Python stays untouched (Debian's
# refuses pip installs outside one). python3-venv from apt when the venv module is missing.
if [ ! -x target/stix-venv/bin/stix2_validator ]; then
    echo "==> installing stix2-validator (pip, in target/stix-venv)"
    python3 -m venv --help >/dev/null 2>&1 || { as_root apt-get update -qq; as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv python3-pip; }
    mkdir -p target
    python3 -m venv target/stix-venv
    target/stix-venv/bin/pip install --quiet 'stix2-validator>=3.3.2'
fi

echo "==> building and running the tests"
cargo nextest run --workspace --no-fail-fast "$@"
