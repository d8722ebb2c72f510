#!/usr/bin/env bash
# Instructions per request of Rampart as a plain reverse proxy, with proxy.sh's stages (an
# access list of 10,000 entries and a per-client rate limit), and with `forward_headers = []`
# (no forwarding fields), under proxy.sh's load (a small GET, keep-alive) in front of the
# anchors' nginx backend: the whole process under callgrind,
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

python3 - "$run/deny.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        f.write(f"198.18.{i // 256 % 256}.{i % 256}/32 ; bench\n")
PY
port=8095
base_config $port "" > "$run/plain.toml"
base_config $port "$(printf '[access]\ndeny = ["203.0.113.0/24"]\ndeny_files = ["%s"]\n\n[[rate_limit]]\nkey = "client"\nrate = "10000000/s"\nburst = 1000000\n' "$run/deny.txt")" > "$run/stages.toml"
callgrind_cost proxy "$run/plain.toml" $port "http://127.0.0.1:$port/"
callgrind_cost stages "$run/stages.toml" $port "http://127.0.0.1:$port/"
base_config $port "" 'forward_headers = []' > "$run/bare.toml"
callgrind_cost bare "$run/bare.toml" $port "http://127.0.0.1:$port/"
