#!/usr/bin/env bash
# Staff on TLS under a flood: what flood.sh measures for staff networks on cleartext, for staff
# known by a session cookie on an HTTPS listener. The capacity-limited testbed (8 concurrent x
# 10 ms) behind Rampart, which listens on cleartext (the flood's) and on TLS (the staff's);
# `rampart drill flood` with 2,000 connections from `SOURCES` (100) addresses on the cleartext
# listener, and beside it 20 staff users, each from its own address of 127.0.2.0/27, each on a
# kept-alive HTTPS connection (HTTP/1.1, reconnecting when the shield closes it) sending 5
# requests a second with a signed staff session cookie, each with a 2 s deadline. Calm first
# (staff alone), then the flood. Prints staff success %, p99 calm and under the flood, and how
# many connections went to the priority worker (`rampart_connections_moved_total`).
#
#   bash bench/tls-staff.sh
#   TRIALS=3 RAMPART_BIN=/path/to/rampart bash bench/tls-staff.sh
#
# Nothing here asserts: the figures go in commit messages and issue notes.
source "$(dirname "$0")/lib.sh"
FLOOD_DURATION=${FLOOD_DURATION:-15s}
CALM_DURATION=${CALM_DURATION:-8s}
TRIALS=${TRIALS:-1}
SOURCES=${SOURCES:-100}
TESTBED=127.0.0.1:9310
PLAIN=127.0.0.1:8095
TLS=127.0.0.1:8443
ADMIN=127.0.0.1:9095

command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }
ulimit -n 20000 2>/dev/null || true
rampart_bin

"$bin" testbed --listen "$TESTBED" --open --max-concurrent 8 --work-ms 10 > "$run/testbed.log" 2>&1 & pids+=($!)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=campaign.test -keyout "$run/site.key" -out "$run/site.pem" 2> /dev/null
head -c 32 /dev/urandom | base64 | tr -d '\n' > "$run/staff.key"
head -c 24 /dev/urandom | base64 > "$run/admin.token"

cat > "$run/rampart.toml" <<TOML
[[listener]]
address = "$PLAIN"
http2 = false

[[listener]]
address = "$TLS"
tls = { cert = "$run/site.pem", key = "$run/site.key" }

$LOAD_LIMITS

[[upstream]]
name = "app"
servers = ["$TESTBED"]

[[priority]]
class = "staff"
cookie = "staff_session"
verify = { jwt_hs256_key_file = "$run/staff.key" }

[admin]
address = "$ADMIN"
token_file = "$run/admin.token"

[log]
level = "warn"
access_log = "off"
TOML
own_session=0  # as flood.sh: the load and the probe share the script's session
start_rampart tls-staff "${PLAIN##*:}" "$run/rampart.toml"

# staff SECONDS: 20 users on HTTPS with the cookie, 5 req/s each; prints one JSON line.
staff() {
    python3 - "$TLS" "$run/staff.key" "$1" <<'PY'
import base64, hashlib, hmac, http.client, json, ssl, sys, threading, time
target, keyfile, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
key = open(keyfile, "rb").read()
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
signing = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(json.dumps({"sub": "staff", "exp": int(time.time()) + 3600}).encode())
cookie = "staff_session=" + (signing + b"." + b64(hmac.new(key, signing, hashlib.sha256).digest())).decode()
host, port = target.rsplit(":", 1)
tls = ssl.create_default_context()
tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
results, errors = [], {}
def user(n):
    conn = http.client.HTTPSConnection(host, int(port), context=tls, timeout=2, source_address=(f"127.0.2.{n + 1}", 0))
    start, sent = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        due = start + sent / 5
        time.sleep(max(0, due - time.monotonic()))
        sent += 1
        t = time.monotonic()
        try:
            conn.request("GET", "/", headers={"Cookie": cookie})
            r = conn.getresponse()
            r.read()
            ok = r.status == 200
            if not ok:
                errors[f"status {r.status}"] = errors.get(f"status {r.status}", 0) + 1
            if r.will_close:
                conn.close()
        except Exception as e:
            ok = False
            conn.close()
            errors[type(e).__name__ + ": " + str(e)[:60]] = errors.get(type(e).__name__ + ": " + str(e)[:60], 0) + 1
        results.append((ok, (time.monotonic() - t) * 1000))
threads = [threading.Thread(target=user, args=(n,)) for n in range(20)]
[t.start() for t in threads]
[t.join() for t in threads]
lat = sorted(ms for ok, ms in results if ok)
p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
print(json.dumps({"requests": len(results), "ok": sum(ok for ok, _ in results), "p99_ms": p99, "max_ms": lat[-1] if lat else None, "errors": errors}))
PY
}

moved() { curl -s "http://$ADMIN/metrics" | awk -F' ' '/^rampart_connections_moved_total\{worker="priority"\}/ {print $2} END {}' | tail -1; }

for trial in $(seq "$TRIALS"); do
    calm=$(staff "${CALM_DURATION%s}")
    "$bin" drill flood --target "http://$PLAIN/" --duration "$FLOOD_DURATION" --connections 2000 --sources "$SOURCES" \
        --cache-bust --timeout 2s --json > "$run/flood.json" &
    flood=$!
    sleep 1
    under=$(staff "$(( ${FLOOD_DURATION%s} - 2 ))")
    wait "$flood"
    python3 - "$calm" "$under" "$(moved)" "$trial" <<'PY'
import json, sys
calm, under = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pct = lambda r: 100.0 * r["ok"] / max(r["requests"], 1)
print(f"trial {sys.argv[4]}: staff on TLS calm {pct(calm):.2f}% p99 {calm['p99_ms']:.1f} ms; under the flood "
      f"{pct(under):.2f}% of {under['requests']}, p99 {under['p99_ms']:.1f} ms ({under['p99_ms'] / calm['p99_ms']:.2f}x calm), "
      f"slowest {under['max_ms'] or float('nan'):.0f} ms; errors {under['errors'] or 'none'}; connections moved to the priority worker so far: {sys.argv[3] or 0}")
PY
    sleep 3
done
