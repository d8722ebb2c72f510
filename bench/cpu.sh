#!/usr/bin/env bash
# Where the CPU goes, per request: the proxy's own time (user + kernel, every thread), the
# backend's, and the load generator's, for each proxy under proxy.sh's load. Requests per
# second on this 2-core machine are all three sharing the cores; this splits them, so that a
# proxy's own cost (its capacity when the backend is on another machine) is seen apart from
# what its requests cost the backend.
#
#   bash bench/cpu.sh                    # 4 rounds of 5 s per target
#   ROUNDS=10 bash bench/cpu.sh            (a multiple of 10 balances the order: see in_turn)
#
# Targets as in proxy.sh: nginx (:8081), nginx+fwd (:8084), haproxy (:8083), rampart (:8090),
# rampart-bare (:8092, `forward_headers = []`). Needs perf (linux-perf) for wrk's share.
# Figures are medians over the rounds of each target's per-request CPU, from
# /proc/PID/task/*/stat (proxy, backend) and `perf stat -e task-clock` (wrk).
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-4}
source "$(dirname "$0")/lib.sh"
command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)"; exit 1; }
setup
start_nginx_fwd 8084
base_config 8090 "" > "$run/plain.toml"
start_rampart plain 8090 "$run/plain.toml"
rampart_pid=${pids[-1]}
base_config 8092 "" 'forward_headers = []' > "$run/bare.toml"
start_rampart bare 8092 "$run/bare.toml"
bare_pid=${pids[-1]}

workers() { pgrep -P "$(cat "$1")" | tr '\n' ' '; }
backend=$(workers "$run/backend.pid")
declare -A pids_of=(
    [nginx]=$(workers "$run/proxy.pid")
    [nginx+fwd]=$(workers "$run/fwd.pid")
    [haproxy]=$(cat "$run/haproxy.pid")
    [rampart]=$rampart_pid
    [rampart-bare]=$bare_pid
)
declare -A cost

# one LABEL PORT: a wrk run; records "proxy backend wrk" microseconds per request.
one() {
    local label=$1 port=$2 p0 b0 p1 b1 out n wrk_ms hz
    hz=$(getconf CLK_TCK)
    # shellcheck disable=SC2086
    p0=$(cpu_ticks ${pids_of[$label]}); b0=$(cpu_ticks $backend)
    out=$(perf stat -x, -e task-clock -o "$run/wrk.stat" wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$port/")
    # shellcheck disable=SC2086
    p1=$(cpu_ticks ${pids_of[$label]}); b1=$(cpu_ticks $backend)
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    wrk_ms=$(awk -F, '/task-clock/ {print $1}' "$run/wrk.stat")
    read -r proxy be load <<< "$(python3 -c "
import sys
p, b, w, n, hz = (float(x) for x in sys.argv[1:])
print(f'{p * 1e6 / hz / n:.2f} {b * 1e6 / hz / n:.2f} {w * 1e3 / n:.2f}')" $((p1 - p0)) $((b1 - b0)) "$wrk_ms" "$n" "$hz")"
    cost[$label]+="$proxy/$be/$load "
    printf '  %-14s %8.0f req/s   proxy %6.2f  backend %6.2f  wrk %6.2f  us/request\n' "$label" \
        "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" "$proxy" "$be" "$load"
}

for round in $(seq "$ROUNDS"); do
    echo "round $round"
    in_turn "$round" 'one nginx 8081' 'one nginx+fwd 8084' 'one haproxy 8083' 'one rampart 8090' 'one rampart-bare 8092'
done

echo
echo "medians over $ROUNDS rounds, microseconds of CPU per request (wrk -t1 -c$CONNS -d$DURATION):"
for label in nginx nginx+fwd haproxy rampart rampart-bare; do
    python3 - "$label" "${cost[$label]}" "${cost[nginx]}" <<'PY'
import statistics, sys
label, mine, base = sys.argv[1], *([tuple(map(float, r.split("/"))) for r in a.split()] for a in sys.argv[2:])
med = [statistics.median(r[i] for r in mine) for i in range(3)]
bmed = [statistics.median(r[i] for r in base) for i in range(3)]
total = sum(med)
print(f"  {label:<14} proxy {med[0]:6.2f} ({med[0] / bmed[0]:.2f}x nginx)   backend {med[1]:6.2f}   wrk {med[2]:6.2f}   all {total:6.2f} ({total / sum(bmed):.2f}x)")
PY
done
