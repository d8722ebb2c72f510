# Shared by the bench scripts: install peers, build Rampart, start/stop processes, run wrk,
# report medians and ratios. Source it; it sets `run` (a temp dir) and a cleanup trap.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${RAMPART_SHARED:-$here/../shared}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6s}
CONNS=${CONNS:-32}
run=$(mktemp -d /tmp/rampart-bench.XXXXXX)
pids=()
declare -A rps p99

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    bash "$shared/anchors/stop.sh" "$run" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Install the peers and the load generator from Debian, build Rampart, start the anchors.
setup() {
    local need=()
    for c in nginx haproxy wrk curl python3; do command -v $c >/dev/null || need+=($c); done
    [ -f /usr/lib/nginx/modules/ngx_http_modsecurity_module.so ] || need+=(libnginx-mod-http-modsecurity)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    (cd "$here" && cargo build --release --quiet)
    bin=$here/target/release/rampart
    bash "$shared/anchors/start.sh" "$run" >/dev/null
}

# Connection limits out of a load generator's way (every bench drives thousands of connections
# from one or a few addresses), for the configurations the scripts write.
LOAD_LIMITS='[limits]
max_connections = 20000
max_connections_per_client = 20000
max_connections_per_prefix = 20000
accept_rate = "100000/s"'

# The rampart binary for scripts that run only it: RAMPART_BIN when set (no build here), else
# a release build of this tree.
rampart_bin() {
    if [ -n "${RAMPART_BIN:-}" ]; then
        bin=$RAMPART_BIN
    else
        (cd "$here" && cargo build --release --quiet --bin rampart)
        bin=${CARGO_TARGET_DIR:-$here/target}/release/rampart
    fi
}

# The head of a Rampart configuration in front of the testbed, with the admin API (token
# "bench-token"): the listener on $RAMPART, admin on $ADMIN, the load generator's limits and the
# upstream "app" on $TESTBED. The scripts append their stages.
testbed_shield() {
    echo "bench-token" > "$run/admin.token"
    cat <<TOML
[[listener]]
address = "$RAMPART"
http2 = false

[admin]
address = "$ADMIN"
token_file = "$run/admin.token"

$LOAD_LIMITS

[[upstream]]
name = "app"
servers = ["$TESTBED"]
TOML
}

# A Rampart configuration in front of the anchors' backend: base_config PORT EXTRA_TOML
# [UPSTREAM_KEYS] (lines for the [[upstream]] table, such as `forward_headers = []`).
# The flood detector is off unless EXTRA_TOML has a [flood] section: a load generator hammering
# from one address is exactly what it exists to stop (it would challenge and ban wrk), and the
# peers measured beside Rampart detect nothing either.
base_config() {
    local flood='[flood]
enabled = false'
    case "$2" in *"[flood]"*) flood="" ;; esac
    cat <<TOML
[[listener]]
address = "127.0.0.1:$1"
http2 = false

$LOAD_LIMITS

[[upstream]]
name = "backend"
servers = ["127.0.0.1:9000"]
${3:-}

[log]
level = "warn"
access_log = "off"

$flood

$2
TOML
}

# start_nginx_fwd PORT: the nginx+fwd peer on PORT, the anchors' proxy configuration (same
# backend, same keep-alive pool) plus what Rampart does by default besides proxying: the five
# forwarding fields toward the backend (X-Forwarded-For, -Proto, -Host, Forwarded, X-Request-Id),
# the client's Host passed on, the request id sent back to the client. The anchors' nginx sends
# none of them, and parsing them costs the backend (one worker, on the same cores as everything
# else) ~1.5 us a request (bench/README.md, session 12): against this peer Rampart does the same
# work. Its master's pid is in $run/fwd.pid.
start_nginx_fwd() {
    cat > "$run/fwd.conf" <<NG
worker_processes auto;
pid $run/fwd.pid;
error_log $run/logs/fwd.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $run/tmp/body_fwd;
  proxy_temp_path $run/tmp/proxy_fwd;
  fastcgi_temp_path $run/tmp/fcgi_fwd; uwsgi_temp_path $run/tmp/uwsgi_fwd; scgi_temp_path $run/tmp/scgi_fwd;
  upstream backend { server 127.0.0.1:9000; keepalive 64; }
  server {
    listen 127.0.0.1:$1 backlog=4096;
    location / {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_set_header Forwarded "for=\$remote_addr;proto=\$scheme;host=\\"\$http_host\\"";
      proxy_set_header X-Request-Id \$request_id;
      add_header X-Request-Id \$request_id always;
      proxy_pass http://backend;
    }
  }
}
NG
    nginx -c "$run/fwd.conf" -e "$run/logs/fwd.err"
    for _ in $(seq 50); do [ -s "$run/fwd.pid" ] && break; sleep 0.1; done
    pids+=("$(cat "$run/fwd.pid")")
}

# start_rampart NAME PORT CONFIG_FILE: run it and wait until it answers. It runs in a session
# of its own (setsid), as the peers do (nginx and HAProxy daemonize) and as a service does
# under systemd (a cgroup of its own). With Linux's autogroup scheduling (on by default) the
# CPU is shared fairly between sessions first: in the script's session Rampart shared one
# share with wrk, and with anything else the script runs, where each peer had a share of its
# own. With a busy process in the script's session, Rampart measured 0.87x nginx in the
# script's session and 0.95x in its own (12 rounds each); without one, no difference showed.
# (The script runs without job control, so the child is no group leader: setsid execs in
# place and $! is Rampart's pid.) The flood trials (flood.sh, detect.sh, sources.sh) set
# own_session=0 and keep the one session their earlier figures had: flood.sh's staff probe runs
# in the flood generator's process, and with Rampart in a session apart the probe's wake-ups
# waited for the generator's share (2 trials: staff p99 2.9-3.4x calm against 1.4-1.5x).
own_session=1
start_rampart() {
    if [ "$own_session" = 1 ]; then
        setsid "$bin" run --config "$3" > "$run/$1.log" 2>&1 & pids+=($!)
    else
        "$bin" run --config "$3" > "$run/$1.log" 2>&1 & pids+=($!)
    fi
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$2/" && return 0; sleep 0.1; done
    echo "rampart ($1) on :$2 did not come up:"; cat "$run/$1.log"; exit 1
}

to_ms() { # wrk latency: 1.23ms / 850.00us / 1.02s
    python3 -c "import sys,re; m=re.match(r'([0-9.]+)(us|ms|s)',sys.argv[1]); n=float(m.group(1)); print(n/1000 if m.group(2)=='us' else n*1000 if m.group(2)=='s' else n)" "$1"
}

# measure LABEL URL [wrk args...]: one wrk run, recorded under LABEL.
measure() {
    local label=$1 url=$2; shift 2
    local out r l
    out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$@" "$url")
    r=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    l=$(echo "$out" | awk '$1=="99%" {print $2}')
    rps[$label]+="$r "
    p99[$label]+="$(to_ms "$l") "
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    echo "  $label  ${r} req/s  p99 ${l}${non2xx:+  non-2xx: $non2xx}"
}

# cpu_ticks PID...: CPU ticks (user + system, every thread) the processes have used.
cpu_ticks() {
    local p t=0
    for p in "$@"; do
        t=$((t + $(cat /proc/"$p"/task/*/stat | awk '{s += $14 + $15} END {print s}')))
    done
    echo $t
}

# measure_peer PIDFILE LABEL URL [wrk args...]: `measure` for an nginx peer (its master's pid in
# PIDFILE). The anchors' nginx runs two workers without an accept mutex, and now and then one
# worker takes all of wrk's connections while the other idles: that round shows the peer at half
# its rate (ModSecurity: ~430 req/s against ~820). Such a round is run again (up to twice), so
# that Rampart is compared with the peer using both cores; the retries are printed.
measure_peer() {
    local pidfile=$1 label=$2; shift 2
    local workers=() w attempt before after share
    read -r -a workers <<< "$(pgrep -P "$(cat "$pidfile")" | tr '\n' ' ')"
    for attempt in 1 2 3; do
        before=(); for w in "${workers[@]}"; do before+=("$(cpu_ticks "$w")"); done
        measure "$label" "$@"
        after=(); for w in "${workers[@]}"; do after+=("$(cpu_ticks "$w")"); done
        # The smallest worker's share of the CPU the workers used in the round.
        share=$(python3 -c "import sys; n=len(sys.argv)//2; d=[int(b)-int(a) for a,b in zip(sys.argv[1:n+1], sys.argv[n+1:])]; print(min(d)/max(sum(d),1))" "${before[@]}" "${after[@]}")
        if [ ${#workers[@]} -lt 2 ] || python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.2 else 1)" "$share" || [ $attempt = 3 ]; then
            return 0
        fi
        echo "    (one of $label's workers took ${share} of the CPU: one worker had every connection; round run again)"
        local kept=${rps[$label]% } lat=${p99[$label]% }
        if [[ $kept == *" "* ]]; then rps[$label]="${kept% *} "; p99[$label]="${lat% *} "; else rps[$label]=""; p99[$label]=""; fi
    done
}

# callgrind_cost NAME CONFIG PORT [wrk args and URL...]: instructions per request of "$bin" run
# with CONFIG under callgrind, uninstrumented until warm (loading rules under callgrind would
# take minutes, and the first requests fill caches later ones reuse) for COST_WARMUP (3s), then
# measured for COST_DURATION (10s), wrk with COST_CONNS (4) connections. Prints NAME, the
# requests and the figure; COST_KEEP=DIR keeps the profile there.
callgrind_cost() {
    local name=$1 config=$2 port=$3; shift 3
    local out=$run/callgrind-$name.out vg n ir
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$bin" run --config "$config" \
        > "$run/callgrind-$name.log" 2>&1 & vg=$!
    for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.5; done
    wrk -t1 -c"${COST_CONNS:-4}" -d"${COST_WARMUP:-3s}" "$@" > /dev/null
    callgrind_control -i on $vg > /dev/null 2>&1
    n=$(wrk -t1 -c"${COST_CONNS:-4}" -d"${COST_DURATION:-10s}" "$@" | awk '/requests in/ {print $1}')
    callgrind_control -i off $vg > /dev/null 2>&1
    kill $vg; wait $vg || true
    ir=$(cat "$out"* | awk '/^totals:/ {s += $2} END {print s}')
    printf '  %-12s %6d requests   %9d instructions per request\n' "$name" "$n" $((ir / n))
    if [ -n "${COST_KEEP:-}" ]; then mkdir -p "$COST_KEEP" && cp "$out"* "$COST_KEEP/"; fi
}

# in_turn ROUND CMD...: run the commands (each one string, eval'd), starting at the ROUND-th
# and wrapping around, so that over the rounds every target is measured first, second, ... as
# often as the others: a machine that speeds up or slows down within a round (a neighbour's
# load, CPU credit) then favours no target by its place in the round. The second N rounds of
# every 2N (N targets) run the list backwards, so that a target does not always follow the same
# one (what a run leaves behind — the backend's idle connections, sockets in TIME_WAIT — meets
# its successor).
in_turn() {
    local round=$1; shift
    local n=$# i at
    local cmds=("$@")
    for ((i = 0; i < n; i++)); do
        at=$(((i + round - 1) % n))
        if (((round - 1) / n % 2 == 1)); then at=$((n - 1 - at)); fi
        eval "${cmds[at]}"
    done
}

median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" $1; }

# report BASELINE LABEL...: medians of every label, then each label's ratio to BASELINE.
report() {
    local base=$1; shift
    echo
    echo "medians over $ROUNDS rounds (wrk -t1 -c$CONNS -d$DURATION):"
    for name in "$base" "$@"; do
        printf '  %-24s %10.0f req/s   p99 %8.2f ms\n' "$name" "$(median "${rps[$name]}")" "$(median "${p99[$name]}")"
    done
    for name in "$@"; do
        python3 -c "import sys; r=float(sys.argv[3])/float(sys.argv[4]); l=float(sys.argv[5])/float(sys.argv[6]); print(f'  ratio {sys.argv[1]:<24} / {sys.argv[2]}: throughput {r:.2f}x   p99 {l:.2f}x')" \
            "$name" "$base" "$(median "${rps[$name]}")" "$(median "${rps[$base]}")" "$(median "${p99[$name]}")" "$(median "${p99[$base]}")"
    done
    # The same ratios taken round by round (each target against the baseline of its own round),
    # then the median: less moved by a machine whose speed drifts from round to round.
    echo "per-round ratios to $base (median, and the range):"
    for name in "$@"; do
        python3 - "$name" "${rps[$name]}" "${rps[$base]}" "${p99[$name]}" "${p99[$base]}" <<'PY'
import random, statistics, sys
name, r, rb, l, lb = sys.argv[1], *(list(map(float, a.split())) for a in sys.argv[2:])
t = [a / b for a, b in zip(r, rb)]
p = [a / b for a, b in zip(l, lb)]
print(f"  {name:<24} throughput {statistics.median(t):.2f}x ({min(t):.2f}-{max(t):.2f})   p99 {statistics.median(p):.2f}x ({min(p):.2f}-{max(p):.2f})")
# How far the median could be from the machine's true ratio: the 95% bootstrap interval of the
# median per-round ratio (the rounds resampled 10,000 times, fixed seed so a run repeats).
if len(t) >= 6:
    rng = random.Random(1)
    m = sorted(statistics.median(rng.choices(t, k=len(t))) for _ in range(10000))
    print(f"  {'':<24} 95% interval of the median throughput ratio: {m[250]:.3f}x-{m[9749]:.3f}x over {len(t)} rounds")
PY
    done
}
