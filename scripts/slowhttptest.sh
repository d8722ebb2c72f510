#!/bin/sh
# Run the slow-attack tests, slowhttptest included, installing slowhttptest first if needed.
# tests/slow_attacks.rs fails (it never skips) when the binary is missing; this is what CI runs.
set -eu
cd "$(dirname "$0")/.."
if ! command -v slowhttptest >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq slowhttptest
fi
slowhttptest -h 2>&1 | head -n 2
# --nocapture: the tests print each mode's figures (connections held, normal client's 200s).
exec cargo test --test slow_attacks -- --nocapture "$@"
