#!/usr/bin/env bash
# Memory under a flood of distinct sources (issue 4: "memory stays under the configured ceiling
# with 10,000,000 distinct flood sources"). Rampart (release) in front of the testbed, trusting
# the drill's loopback address as a proxy, with the flood defence, per-client rate limits, a
# login guard and `[state] memory_ceiling = "64MiB"`; `rampart drill flood --source-mode xff`
# sends SOURCES requests, each from its own address in `X-Forwarded-For` (10.x.y.z..., every
# one distinct). Every 5 s it samples the process's resident memory (VmRSS) and the stages'
# own accounting (`rampart_stage_memory_bytes`), and prints both against the ceiling.
#
#   bash bench/sources.sh                    # 10,000,000 sources (several minutes)
#   SOURCES=1000000 bash bench/sources.sh
#   RAMPART_BIN=/path/to/rampart bash bench/sources.sh
#
# The ceiling bounds the shield's per-client state; the resident set also holds the process's
# fixed costs (runtime, buffers of open connections, allocator caches), reported apart as the
# memory before the flood. Nothing asserts: the figures go in the issue note.
source "$(dirname "$0")/lib.sh"
SOURCES=${SOURCES:-10000000}
TESTBED=127.0.0.1:9320
RAMPART=127.0.0.1:8097
ADMIN=127.0.0.1:9097
rampart_bin
ulimit -n 20000 2>/dev/null || true

"$bin" testbed --listen "$TESTBED" --open > "$run/testbed.log" 2>&1 & pids+=($!)
cat > "$run/rampart.toml" <<TOML
[server]
trusted_proxies = ["127.0.0.1/32"]
client_address = "x-forwarded-for"

$(testbed_shield)

[[rate_limit]]
key = "client"
rate = "50/s"
burst = 100
action = "throttle"

[[rate_limit]]
key = "prefix"
rate = "500/s"
burst = 1000
action = "throttle"

[[login]]
path = "/login"
failure = { body = "invalid username or password" }

[state]
memory_ceiling = "64MiB"

[log]
level = "warn"
access_log = "off"
TOML
own_session=0  # as its earlier figures were measured (see start_rampart in lib.sh)
start_rampart sources "${RAMPART##*:}" "$run/rampart.toml"
pid=${pids[-1]}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; }
stage_bytes() { curl -s -H "Authorization: Bearer bench-token" "http://$ADMIN/metrics" | awk '/^rampart_stage_memory_bytes/ {print $2}'; }

before=$(rss_kib)
echo "memory under $SOURCES distinct sources: [state] memory_ceiling = 64 MiB; resident before the flood $((before / 1024)) MiB"
"$bin" drill flood --target "http://$RAMPART/" --source-mode xff --sources "$SOURCES" --requests "$SOURCES" \
    --connections 64 --requests-per-connection 1000 --duration 10m --timeout 5s --no-probe --json > "$run/flood.json" &
drill=$!
max_rss=0 max_stage=0
while kill -0 "$drill" 2>/dev/null; do
    sleep 5
    r=$(rss_kib); s=$(stage_bytes); s=${s%.*}; s=${s:-0}
    [ "$r" -gt "$max_rss" ] && max_rss=$r
    [ "$s" -gt "$max_stage" ] && max_stage=$s
    echo "  $(date +%T)  resident $((r / 1024)) MiB   stage state $((s / 1048576)) MiB"
done
wait "$drill" || true
python3 - "$run/flood.json" "$before" "$max_rss" "$(hwm_kib)" "$max_stage" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
before, max_rss, hwm, stage = (int(x) for x in sys.argv[2:6])
a = f["attack"]
print(f"  sent {a['requests']:,} requests from {f['sources']} in {f['elapsed_s']:.0f} s ({f['requests_per_s']:,.0f} req/s)")
print(f"  resident: {before/1024:.0f} MiB before, {max_rss/1024:.0f} MiB at most while sampled, high-water mark {hwm/1024:.0f} MiB"
      f" (+{(hwm-before)/1024:.0f} MiB)")
print(f"  stage state (rampart_stage_memory_bytes): at most {stage/1048576:.1f} MiB of the 64 MiB ceiling")
PY
echo "(reports: $run)"
