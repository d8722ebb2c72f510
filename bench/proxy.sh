#!/usr/bin/env bash
# Rampart against nginx and HAProxy as plain reverse proxies, side by side, same backend, same
# load generator (wrk, small GET, keep-alive), alternating runs (each round starts with the next
# target); prints medians and ratios.
#
#   bash bench/proxy.sh                       # 3 rounds of 6 s per target
#   ROUNDS=10 DURATION=10s bash bench/proxy.sh   (a multiple of 10 balances the order: see in_turn)
#
# Targets, all in front of the anchors' nginx backend on :9000:
#   nginx            :8081  (../shared/anchors)
#   haproxy          :8083  (../shared/anchors)
#   rampart          :8090  plain proxy, access log off
#   rampart+stages   :8091  plus an access list of 10,000 entries and a per-client rate limit
#                           set high enough never to fire: the cost of the checks themselves
#   nginx+fwd        :8084  nginx doing what Rampart does by default besides proxying: the five
#                           forwarding fields toward the backend (X-Forwarded-For, -Proto, -Host,
#                           Forwarded, X-Request-Id), the client's Host passed on, the request id
#                           sent back. The anchors' nginx sends none of them; parsing them costs
#                           the backend (one worker, on the same two cores) ~1.5 us a request
#                           (perf, bench/README.md session 12). Rampart's ratio to it is the
#                           like-for-like one.
source "$(dirname "$0")/lib.sh"
setup

# 10,000 deny entries from a benchmarking range nobody sends from.
python3 - "$run/deny.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        f.write(f"198.18.{i // 256 % 256}.{i % 256}/32 ; bench\n")
PY
# The nginx+fwd peer: the anchors' proxy configuration, plus the forwarding fields.
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
    listen 127.0.0.1:8084 backlog=4096;
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

base_config 8090 "" > "$run/plain.toml"
base_config 8091 "$(printf '[access]\ndeny = ["203.0.113.0/24"]\ndeny_files = ["%s"]\n\n[[rate_limit]]\nkey = "client"\nrate = "10000000/s"\nburst = 1000000\n' "$run/deny.txt")" > "$run/stages.toml"
start_rampart plain 8090 "$run/plain.toml"
start_rampart stages 8091 "$run/stages.toml"

for round in $(seq "$ROUNDS"); do
    echo "round $round"
    in_turn "$round" \
        'measure_peer "$run/proxy.pid" nginx http://127.0.0.1:8081/' \
        'measure_peer "$run/fwd.pid" nginx+fwd http://127.0.0.1:8084/' \
        'measure haproxy http://127.0.0.1:8083/' \
        'measure rampart http://127.0.0.1:8090/' \
        'measure rampart+stages http://127.0.0.1:8091/'
done
report nginx haproxy rampart rampart+stages nginx+fwd
# The like-for-like ratio: Rampart against nginx sending the same fields.
report nginx+fwd rampart rampart+stages
