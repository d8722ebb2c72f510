#!/usr/bin/env bash
# Rampart against nginx and HAProxy as plain reverse proxies, side by side, same backend, same
# load generator (wrk, small GET, keep-alive), alternating runs (each round starts with the next
# target); prints medians and ratios.
#
#   bash bench/proxy.sh                       # 3 rounds of 6 s per target
#   ROUNDS=12 DURATION=10s bash bench/proxy.sh   (a multiple of twice the number of targets, 12 for all six, balances the order: see in_turn)
#   TARGETS="nginx rampart" ROUNDS=48 DURATION=3s bash bench/proxy.sh   (the plain bar alone)
#
# Targets, all in front of the anchors' nginx backend on :9000:
#   nginx            :8081  (../shared/anchors)
#   haproxy          :8083  (../shared/anchors)
#   rampart          :8090  plain proxy, access log off
#   rampart+stages   :8091  plus an access list of 10,000 entries and a per-client rate limit
#                           set high enough never to fire: the cost of the checks themselves
#   rampart-bare     :8092  plain proxy with `forward_headers = []`: no forwarding fields, the
#                           anchors' nginx's job
#   rampart-unpinned :8093  plain proxy with `[server] pin_workers = false`: the workers left to
#                           the scheduler (not in the default set; name it in TARGETS)
#   nginx+fwd        :8084  nginx doing what Rampart does by default besides proxying: the five
#                           forwarding fields, the request id sent back (see start_nginx_fwd).
#                           Rampart's ratio to it, and rampart-bare's to the anchors' nginx, are
#                           the like-for-like ones.
source "$(dirname "$0")/lib.sh"

# TARGETS (all of them by default): the labels to measure, e.g. TARGETS="nginx rampart" for the
# plain bar alone, in short alternating rounds (ROUNDS=48 DURATION=3s: each pair of runs a few
# seconds apart, so a machine drifting in speed moves both alike).
declare -A cmd=(
    [nginx]='measure_peer "$run/proxy.pid" nginx http://127.0.0.1:8081/'
    [nginx+fwd]='measure_peer "$run/fwd.pid" nginx+fwd http://127.0.0.1:8084/'
    [haproxy]='measure haproxy http://127.0.0.1:8083/'
    [rampart]='measure rampart http://127.0.0.1:8090/'
    [rampart+stages]='measure rampart+stages http://127.0.0.1:8091/'
    [rampart-bare]='measure rampart-bare http://127.0.0.1:8092/'
    [rampart-unpinned]='measure rampart-unpinned http://127.0.0.1:8093/'
)
all="nginx nginx+fwd haproxy rampart rampart+stages rampart-bare"
read -r -a targets <<< "${TARGETS:-$all}"
turns=()
for t in "${targets[@]}"; do
    [ -n "${cmd[$t]:-}" ] || { echo "TARGETS: unknown target '$t' (known: $all rampart-unpinned)"; exit 2; }
    turns+=("${cmd[$t]}")
done
[[ " ${targets[*]} " == *" nginx "* ]] || { echo "TARGETS must include nginx, the baseline"; exit 2; }

setup

# 10,000 deny entries from a benchmarking range nobody sends from.
python3 - "$run/deny.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        f.write(f"198.18.{i // 256 % 256}.{i % 256}/32 ; bench\n")
PY
start_nginx_fwd 8084

base_config 8090 "" > "$run/plain.toml"
base_config 8091 "$(printf '[access]\ndeny = ["203.0.113.0/24"]\ndeny_files = ["%s"]\n\n[[rate_limit]]\nkey = "client"\nrate = "10000000/s"\nburst = 1000000\n' "$run/deny.txt")" > "$run/stages.toml"
start_rampart plain 8090 "$run/plain.toml"
start_rampart stages 8091 "$run/stages.toml"
base_config 8092 "" 'forward_headers = []' > "$run/bare.toml"
start_rampart bare 8092 "$run/bare.toml"
if [[ " ${targets[*]} " == *" rampart-unpinned "* ]]; then
    base_config 8093 "$(printf '[server]\npin_workers = false\n')" > "$run/unpinned.toml"
    start_rampart unpinned 8093 "$run/unpinned.toml"
fi

for round in $(seq "$ROUNDS"); do
    echo "round $round"
    in_turn "$round" "${turns[@]}"
done
others=()
for t in haproxy rampart rampart+stages rampart-bare rampart-unpinned nginx+fwd; do
    [[ " ${targets[*]} " == *" $t "* ]] && others+=("$t")
done
report nginx "${others[@]}"
# The like-for-like ratio: Rampart against nginx sending the same fields.
if [[ " ${targets[*]} " == *" nginx+fwd "* && " ${targets[*]} " == *" rampart "* ]]; then
    report nginx+fwd rampart $([[ " ${targets[*]} " == *" rampart+stages "* ]] && echo rampart+stages)
fi
