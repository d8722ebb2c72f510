#!/usr/bin/env bash
# Rampart with the OWASP CRS v4 at paranoia 1 (blocking) against nginx + ModSecurity v3 with the
# same CRS (../shared/crs), side by side, same backend, same load: a typical GET with a query
# string, and a form POST. Prints medians and ratios; the plain nginx proxy is printed too, as
# the cost floor.
#
#   bash bench/waf.sh
source "$(dirname "$0")/lib.sh"
setup
# lib.sh builds with cargo, which honours CARGO_TARGET_DIR; run the binary it built.
bin=${CARGO_TARGET_DIR:-$here/target}/release/rampart

crs=$(cd "$shared/crs" && pwd)
cp "$crs/crs-setup.conf.example" "$run/crs-setup.conf"
base_config 8092 "$(printf '[waf]\nrules = ["%s", "%s/rules/*.conf"]\nparanoia = 1\nmode = "block"\n' "$run/crs-setup.conf" "$crs")" > "$run/waf.toml"
start_rampart waf 8092 "$run/waf.toml"

cat > "$run/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = "username=alice%40example.org&comment=Looking+forward+to+the+canvass+on+Saturday&ward=North+Central&consent=yes"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
get="/contacts/search?q=smith&ward=north&page=2"

# Sanity: both WAFs block an attack and pass the benign requests.
for port in 8082 8092; do
    attack=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/?id=1%27%20or%201=1--")
    benign=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$get")
    echo "  :$port attack -> $attack, benign GET -> $benign"
done

for round in $(seq "$ROUNDS"); do
    echo "round $round"
    in_turn "$round" \
        'measure_peer "$run/proxy.pid" "nginx GET" "http://127.0.0.1:8081$get"' \
        'measure_peer "$run/modsec.pid" "modsecurity GET" "http://127.0.0.1:8082$get"' \
        'measure "rampart+crs GET" "http://127.0.0.1:8092$get"' \
        'measure_peer "$run/modsec.pid" "modsecurity POST" "http://127.0.0.1:8082/form" -s "$run/post.lua"' \
        'measure "rampart+crs POST" "http://127.0.0.1:8092/form" -s "$run/post.lua"'
done
report "modsecurity GET" "rampart+crs GET" "nginx GET"
report "modsecurity POST" "rampart+crs POST"
