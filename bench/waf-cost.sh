#!/usr/bin/env bash
# Instructions per request of Rampart with the OWASP CRS v4 at paranoia 1 (blocking), through
# the real shield: the whole process (listener, proxy, shield, WAF, mimalloc) under callgrind,
# wrk sending waf.sh's GET and form POST. Requests per second on a shared machine swing by 20%
# from round to round; this figure repeats within 0.3%, so a change of a few per cent shows.
# Unlike benches/transaction.rs it counts what the binary really runs: mimalloc instead of the
# bench's glibc malloc (a change that saves allocations saves far less here), the stage adapter,
# the response phases. Kernel time (page faults, syscalls) is not counted: judge a change that
# trades instructions for memory with waf.sh as well.
#
#   RAMPART_BIN=/path/to/rampart bash bench/waf-cost.sh      (without RAMPART_BIN: builds this tree)
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 1; }
rampart_bin
bash "$shared/anchors/start.sh" "$run" >/dev/null

crs=$(cd "$shared/crs" && pwd)
cp "$crs/crs-setup.conf.example" "$run/crs-setup.conf"
port=8094
base_config $port "$(printf '[waf]\nrules = ["%s", "%s/rules/*.conf"]\nparanoia = 1\nmode = "block"\n' "$run/crs-setup.conf" "$crs")" > "$run/waf.toml"
cat > "$run/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = "username=alice%40example.org&comment=Looking+forward+to+the+canvass+on+Saturday&ward=North+Central&consent=yes"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA

: "${COST_CONNS:=8}" "${COST_WARMUP:=5s}" "${COST_DURATION:=15s}"
callgrind_cost GET "$run/waf.toml" $port "http://127.0.0.1:$port/contacts/search?q=smith&ward=north&page=2"
callgrind_cost POST "$run/waf.toml" $port -s "$run/post.lua" "http://127.0.0.1:$port/form"
