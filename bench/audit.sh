#!/usr/bin/env bash
# The audit trail's write and verify costs (issue 6): acknowledged appends per second with group
# commit for 16, 64, 256 and 1,024 concurrent appenders (each append returns once its batch is
# fsynced), the non-blocking submit path the shield uses (1,000,000 decision-shaped records,
# timed until close has them all on disk), and the time `verify` takes over that log.
#
#   bash bench/audit.sh                       # 3 s per appender count, 1,000,000 records
#   DURATION=5 RECORDS=2000000 bash bench/audit.sh
#
# The log is written under $AUDIT_BENCH_DIR (default: the cargo target directory), on the disk
# whose fsync is being measured, and removed afterwards. Nothing here asserts a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"
export AUDIT_BENCH_DIR=${AUDIT_BENCH_DIR:-$target}
cargo bench -q -p rampart-audit --bench throughput -- "${DURATION:-3}" "${RECORDS:-1000000}"
