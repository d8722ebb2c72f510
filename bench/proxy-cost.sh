#!/usr/bin/env bash
# Instructions per request of Rampart as a plain reverse proxy (proxy.sh's load: a small GET,
# keep-alive) in front of the anchors' nginx backend: the whole process under callgrind,
# instrumented after a warm-up, wrk sending. Requests per second on a shared machine swing by
# 10-20% from round to round; this figure repeats within about 2% (how many requests each
# wake-up of a worker finds ready varies), so a change of a few per cent shows. Kernel time
# (syscalls, context switches) is not counted: judge a change with proxy.sh as well.
#
#   RAMPART_BIN=/path/to/rampart bash bench/proxy-cost.sh      (without RAMPART_BIN: builds this tree)
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 1; }
rampart_bin
bash "$shared/anchors/start.sh" "$run" >/dev/null

port=8095
base_config $port "" > "$run/plain.toml"
out=$run/callgrind.out
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$bin" run --config "$run/plain.toml" \
    > "$run/callgrind.log" 2>&1 & vg=$!
for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.5; done
wrk -t1 -c4 -d3s "http://127.0.0.1:$port/" > /dev/null
callgrind_control -i on $vg > /dev/null 2>&1
n=$(wrk -t1 -c4 -d${COST_DURATION:-10s} "http://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
callgrind_control -i off $vg > /dev/null 2>&1
kill $vg; wait $vg || true
ir=$(cat "$out"* | awk '/^totals:/ {s += $2} END {print s}')
printf '  plain proxy  %6d requests   %6d instructions per request\n' "$n" $((ir / n))
[ -n "${COST_KEEP:-}" ] && cp "$out"* "$COST_KEEP/"
exit 0
