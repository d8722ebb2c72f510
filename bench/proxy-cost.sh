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
callgrind_cost proxy "$run/plain.toml" $port "http://127.0.0.1:$port/"
