#!/usr/bin/env bash
# Admin API benchmark: authenticated GET /api/v1/zones under load over TLS
# keep-alive connections (wrk) with a JWT and with an API key; the same with
# ab for JWT, API key and an mTLS client certificate (wrk cannot present
# one), so the three compare on one tool; and login latency (p50/p99) with the Argon2id
# parameters in force (headend's defaults, 46 MiB x 2 passes, unless
# ARGON2_M (KiB) / ARGON2_T are set).
# headend is pinned to CPU 1 and wrk to CPU 0 (taskset), as the other
# benchmarks do; PIN=0 lets both float over every core.
#
# Then the web console's leases page with LEASES (100,000) leases in the
# store: server time per page (wrk, one keep-alive connection) for the first
# page, a deep page and a host-name search (target: p99 < 50 ms).
#
#
# Then /metrics scrape time (server time: first byte after the TLS handshake,
# p50/p99/max of SCRAPES scrapes) on a second headend holding LEASES leases
# (default 100,000, written straight into its SQLite store) in one DHCP pool
# and ZONES zones (default 50); METRICS=0 skips it, METRICS_ONLY=1 runs only it.
# DHCP listens on loopback on a high port (no client traffic): it is there for
# its handle, whose pool gauges read the store at each scrape.
#
# Every load row gives the server's CPU beside its rate: requests per
# server-CPU-second and the share of a core it used.
#
# Usage: bench/admin.sh      (DURATION=10 CONNS=64 THREADS=2 LOGIN_DURATION=10 LEASES=100000 to change)
# Traffic goes to 127.0.0.1 only; every run stops by itself after its duration.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
LOGIN_DURATION=${LOGIN_DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ARGON2_M=${ARGON2_M:-47104}
ARGON2_T=${ARGON2_T:-2}
PIN=${PIN:-1}
LEASES=${LEASES:-100000}
PAGE_DURATION=${PAGE_DURATION:-5}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
server_pin=()
client_pin=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then
  server_pin=(taskset -c "$SERVER_CPU")
  client_pin=(taskset -c "$CLIENT_CPU")
fi

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
command -v curl >/dev/null || { echo "missing curl: apt-get install curl" >&2; exit 1; }
if ! command -v ab >/dev/null; then
  echo "installing ab (Debian package apache2-utils)" >&2
  apt-get install -y --no-install-recommends apache2-utils >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends apache2-utils >/dev/null; }
fi
command -v openssl >/dev/null || { echo "missing openssl: apt-get install openssl" >&2; exit 1; }

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p headend >&2
HEADEND=${HEADEND_BIN:-$PWD/target/release/headend}
LEASES=${LEASES:-100000}
ZONES=${ZONES:-50}
SCRAPES=${SCRAPES:-50}

work=$(mktemp -d /tmp/headend-bench-admin.XXXXXX)
pid=
mpid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$mpid" ] && kill "$mpid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_ready() { # log pid
  for _ in $(seq 1 600); do
    grep -q "headend ready" "$1" && return 0
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2; exit 1; }
    sleep 0.1
  done
  echo "headend did not start" >&2; cat "$1" >&2; exit 1
}

# /metrics with LEASES leases and ZONES zones.
bench_metrics() {
  local m="$work/metrics" mport dport
  mkdir -p "$m/zones"
  mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  dport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  {
    printf '[general]\nstate_dir = "state"\n[log]\nlevel = "warn,headend=info"\n'
    printf '[dns]\nlisten = ["127.0.0.1:%s"]\n' "$dport"
    for i in $(seq 1 "$ZONES"); do
      printf '$ORIGIN z%s.bench.\n$TTL 300\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n' "$i" > "$m/zones/z$i.zone"
      for j in $(seq 1 20); do printf 'h%s A 192.0.2.%s\n' "$j" "$j" >> "$m/zones/z$i.zone"; done
      printf '[[dns.zone]]\norigin = "z%s.bench"\nfile = "zones/z%s.zone"\n' "$i" "$i"
    done
    printf '[dhcp]\ninterfaces = ["lo"]\nport = 10067\nserver_id = "127.0.0.1"\n'
    printf '[[dhcp.subnet]]\nname = "bench"\nsubnet = "10.64.0.0/14"\ninterface = "lo"\npools = ["10.64.0.1-10.67.255.254"]\n'
    printf '[admin]\nlisten = "127.0.0.1:%s"\n' "$mport"
  } > "$m/headend.toml"
  # First start creates the store; the leases are written while it is stopped.
  : > "$m/log0"; : > "$m/log"
  "$HEADEND" serve --config "$m/headend.toml" 2>"$m/log0" &
  mpid=$!
  wait_ready "$m/log0" "$mpid"
  kill "$mpid"; wait "$mpid" 2>/dev/null || true; mpid=
  python3 - "$m/state/headend.db" "$LEASES" <<'PY'
import sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
now = int(time.time())
c = sqlite3.connect(db)
base = (10 << 24) | (64 << 16)
states = ["bound"] * 8 + ["offered", "declined"]
rows = []
for i in range(n):
    mac = (0x020000000000 + i).to_bytes(6, "big")
    rows.append((base + 1 + i, "bench", b"\x01" + mac, mac, None, f"host{i}", states[i % 10],
                 now + 86400, None, None, now, None))
c.executemany("INSERT INTO dhcp_leases (address, subnet, client_key, hwaddr, client_id, hostname,"
              " state, expires, circuit_id, remote_id, updated, class) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
c.commit()
PY
  "${server_pin[@]}" "$HEADEND" serve --config "$m/headend.toml" 2>"$m/log" &
  mpid=$!
  wait_ready "$m/log" "$mpid"
  local url="https://127.0.0.1:$mport/metrics"
  curl -sk "$url" > "$m/first.txt"
  grep -q '^headend_dhcp_pool_leased{' "$m/first.txt" || { echo "no pool gauges in /metrics" >&2; exit 1; }
  echo "== /metrics with $LEASES leases and $ZONES zones: $SCRAPES scrapes (new TLS connection each)"
  grep -E '^headend_dhcp_pool_(leased|free)\{' "$m/first.txt"
  echo "  $(wc -c < "$m/first.txt") bytes, $(grep -vc '^#' "$m/first.txt") lines"
  local t0 t1
  t0=$(awk '{ print $14 + $15 }' "/proc/$mpid/stat")
  for _ in $(seq 1 "$SCRAPES"); do
    "${client_pin[@]}" curl -sk -o /dev/null -w '%{time_appconnect} %{time_starttransfer} %{time_total}\n' "$url"
  done > "$m/times.txt"
  t1=$(awk '{ print $14 + $15 }' "/proc/$mpid/stat")
  python3 - "$m/times.txt" <<'PY'
import sys
server = sorted((float(b) - float(a)) * 1000 for a, b, _ in (l.split() for l in open(sys.argv[1])))
total = sorted(float(t) * 1000 for _, _, t in (l.split() for l in open(sys.argv[1])))
pct = lambda v, p: v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
print(f"  /metrics server time: p50 {pct(server, 50):.1f} ms, p99 {pct(server, 99):.1f} ms, max {server[-1]:.1f} ms"
      f" (with TLS handshake: p50 {pct(total, 50):.1f} ms)")
PY
  # Wall time on a shared host includes waiting for the CPU; the server's own
  # CPU time per scrape (handshake included) is the cost that does not.
  echo "  /metrics server CPU per scrape (TLS handshake included): $(awk -v a="$t0" -v b="$t1" -v n="$SCRAPES" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) * 1000 / hz / n }') ms"
  kill "$mpid"; wait "$mpid" 2>/dev/null || true; mpid=
}

if [ "${METRICS_ONLY:-0}" = 1 ]; then
  bench_metrics
  exit 0
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dnsport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cp zones/example.test.zone "$work/example.test.zone"
# A client CA and one client certificate for the mTLS row.
(
  cd "$work"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -subj /CN=bench-ca -days 2 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr \
    -subj /CN=bench-client 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://bench/client\n' >client.ext
  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile client.ext -out client.pem 2>/dev/null
  cat client.pem client.key >client-both.pem
)
cat > "$work/headend.toml" <<TOML
[general]
state_dir = "state"
[log]
level = "warn,headend=info"
[dns]
listen = ["127.0.0.1:$dnsport"]
[[dns.zone]]
origin = "example.test"
file = "example.test.zone"
[admin]
listen = "127.0.0.1:$port"
[admin.argon2]
memory_kib = $ARGON2_M
iterations = $ARGON2_T
parallelism = 1
max_concurrent = 2
[admin.limits]
# The per-address limiter would stop a login benchmark at once; measure the hash.
login_per_minute = 1000000
login_burst = 100000
[admin.rate_limit]
# Measure the request path, not the limiter's refusals.
per_second = 1000000000
burst = 1000000000
per_address_per_second = 1000000000
per_address_burst = 1000000000
[admin.client_tls]
ca_file = "ca.pem"
mode = "optional"
[[admin.client_tls.map]]
identity = "uri:spiffe://bench/client"
principal = "bench-client"
role = "viewer"
TOML

# The store with LEASES leases (10.0.0.0 up, in subnet "bench"), written
# before the server starts: `headend user` creates and migrates the store.
PW="bench-password-$RANDOM$RANDOM"
echo "$PW" | "$HEADEND" user --config "$work/headend.toml" add bench --role viewer --password-stdin >/dev/null
python3 - "$work/state/headend.db" "$LEASES" <<'PY'
import sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
now = int(time.time())
c = sqlite3.connect(db)
rows = []
for i in range(n):
    addr = (10 << 24) + i
    mac = bytes([2, 0, (i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255])
    state = ("bound", "bound", "bound", "offered", "released")[i % 5]
    rows.append((addr, "bench", b"\x01" + mac, mac, None, f"cpe-{i:06d}", state,
                 now + 86400, f"cmts1:{i % 512}".encode(), None, now, None))
c.executemany("INSERT INTO dhcp_leases (address, subnet, client_key, hwaddr, client_id, hostname, state, expires, circuit_id, remote_id, updated, class) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
c.commit()
print(f"{c.execute('SELECT count(*) FROM dhcp_leases').fetchone()[0]} leases in the store")
PY

"${server_pin[@]}" "$HEADEND" serve --config "$work/headend.toml" 2>"$work/log" &
pid=$!
for _ in $(seq 1 300); do
  grep -q "headend ready" "$work/log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
  sleep 0.1
done
grep -q "headend ready" "$work/log" || { echo "headend did not start" >&2; cat "$work/log" >&2; exit 1; }

base="https://127.0.0.1:$port"
body="{\"username\":\"bench\",\"password\":\"$PW\"}"
token=$(curl -sk -H 'content-type: application/json' -d "$body" "$base/api/v1/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
[ "$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/api/v1/zones")" = 200 ] ||
  { echo "authenticated GET does not answer 200" >&2; exit 1; }
echo "$PW" | "$HEADEND" user --config "$work/headend.toml" add benchadmin --role admin --password-stdin >/dev/null
admin_token=$(curl -sk -H 'content-type: application/json' -d "{\"username\":\"benchadmin\",\"password\":\"$PW\"}" "$base/api/v1/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
apikey=$(curl -sk -H "Authorization: Bearer $admin_token" -H 'content-type: application/json' \
  -d '{"name":"bench","role":"viewer","rate":4000000000}' "$base/api/v1/apikeys" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
[ "$(curl -sk -o /dev/null -w '%{http_code}' -H "X-API-Key: $apikey" "$base/api/v1/zones")" = 200 ] ||
  { echo "GET with the API key does not answer 200" >&2; exit 1; }
[ "$(curl -sk -o /dev/null -w '%{http_code}' --cert "$work/client.pem" --key "$work/client.key" "$base/api/v1/zones")" = 200 ] ||
  { echo "GET with the client certificate does not answer 200" >&2; exit 1; }

# The server's CPU over each load run: work per server-CPU-second beside
# the rate, and whether the server was busy (below 95 % of its core the
# client was the limit, and the per-CPU-second figure is the one to compare).
HZ=$(getconf CLK_TCK)
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
declare -A T0 T1 W0 W1
mark() { T0[$1]=$(cpu_ticks "$pid"); W0[$1]=$(date +%s.%N); }
marked() { T1[$1]=$(cpu_ticks "$pid"); W1[$1]=$(date +%s.%N); }
cost() { # label requests-done
  awk -v n="${2:-0}" -v t=$(( ${T1[$1]} - ${T0[$1]} )) -v hz="$HZ" -v a="${W0[$1]}" -v b="${W1[$1]}" 'BEGIN {
    c = t / hz; w = b - a; busy = (w > 0 ? 100 * c / w : 0)
    printf "%s per server-CPU-s, server %.0f %% of a core%s", (c > 0 ? sprintf("%.0f", n / c) : "n/a"), busy,
      (busy < 95 ? " (below 95 %: the server was not saturated; compare per CPU-second)" : "")
  }'
}
wrk_done() { awk '/ requests in / {print $1}' "$1"; }
ab_done() { awk '/^Complete requests:/ {print $3}' "$1"; }

echo "== server CPU: ${server_pin[*]:-any}, wrk CPU: ${client_pin[*]:-any}"
echo "== authenticated GET /api/v1/zones: wrk -t$THREADS -c$CONNS -d${DURATION}s (TLS keep-alive)"
mark get
"${client_pin[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -H "Authorization: Bearer $token" "$base/api/v1/zones" | tee "$work/get.txt"
marked get
non2xx=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$work/get.txt" | grep -o '[0-9]*$' || echo 0)
[ "${non2xx:-0}" = 0 ] || echo "WARNING: $non2xx non-2xx answers" >&2

echo "== GET /api/v1/zones with an API key (Authorization: Bearer hk_...): wrk -t$THREADS -c$CONNS -d${DURATION}s"
mark getkey
"${client_pin[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -H "Authorization: Bearer $apikey" "$base/api/v1/zones" | tee "$work/getkey.txt"
marked getkey
non2xx=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$work/getkey.txt" | grep -o '[0-9]*$' || echo 0)
[ "${non2xx:-0}" = 0 ] || echo "WARNING: $non2xx non-2xx answers" >&2

# ab: one tool for all three credentials (wrk cannot present a client certificate).
ab_run() {
  "${client_pin[@]}" ab -q -k -c "$CONNS" -t "$DURATION" -n 100000000 "$@" "$base/api/v1/zones" 2>&1
}
echo "== ab -k -c$CONNS -t$DURATION: JWT, API key, mTLS client certificate"
mark ab-jwt
ab_run -H "Authorization: Bearer $token" | tee "$work/ab-jwt.txt" | grep -E -A1 'Requests per second|Non-2xx|Failed requests' | grep -v '^--'
marked ab-jwt
mark ab-key
ab_run -H "X-API-Key: $apikey" | tee "$work/ab-key.txt" | grep -E -A1 'Requests per second|Non-2xx|Failed requests' | grep -v '^--'
marked ab-key
mark ab-mtls
ab_run -E "$work/client-both.pem" | tee "$work/ab-mtls.txt" | grep -E -A1 'Requests per second|Non-2xx|Failed requests' | grep -v '^--'
marked ab-mtls

cat > "$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA
echo "== login (Argon2id m=${ARGON2_M} KiB t=${ARGON2_T} p=1): wrk -t1 -c1 -d${LOGIN_DURATION}s"
mark login
"${client_pin[@]}" wrk -t1 -c1 -d"${LOGIN_DURATION}s" --latency -s "$work/login.lua" "$base/api/v1/auth/login" | tee "$work/login.txt"
marked login
echo "== login, 4 concurrent clients (hashes are capped at 2 at a time)"
mark login4
"${client_pin[@]}" wrk -t1 -c4 -d"${LOGIN_DURATION}s" --latency -s "$work/login.lua" "$base/api/v1/auth/login" | tee "$work/login4.txt"
marked login4

pct() { awk -v p="$2" '$1 == p {print $2}' "$1"; }
echo
echo "summary:"
echo "  authenticated GET: $(awk '/Requests\/sec/ {print $2}' "$work/get.txt") req/s, p50 $(pct "$work/get.txt" 50%), p99 $(pct "$work/get.txt" 99%); $(cost get "$(wrk_done "$work/get.txt")")"
echo "  GET with API key:  $(awk '/Requests\/sec/ {print $2}' "$work/getkey.txt") req/s, p50 $(pct "$work/getkey.txt" 50%), p99 $(pct "$work/getkey.txt" 99%); $(cost getkey "$(wrk_done "$work/getkey.txt")")"
abrps() { awk '/Requests per second/ {print $4}' "$1"; }
echo "  ab GET, JWT / API key / mTLS: $(abrps "$work/ab-jwt.txt") / $(abrps "$work/ab-key.txt") / $(abrps "$work/ab-mtls.txt") req/s"
for run in ab-jwt ab-key ab-mtls; do
  echo "    $run: $(cost "$run" "$(ab_done "$work/$run.txt")")"
done
echo "  login (1 client):  $(awk '/Requests\/sec/ {print $2}' "$work/login.txt") logins/s, p50 $(pct "$work/login.txt" 50%), p99 $(pct "$work/login.txt" 99%); $(cost login "$(wrk_done "$work/login.txt")")"
echo "  login (4 clients): $(awk '/Requests\/sec/ {print $2}' "$work/login4.txt") logins/s, p50 $(pct "$work/login4.txt" 50%), p99 $(pct "$work/login4.txt" 99%); $(cost login4 "$(wrk_done "$work/login4.txt")")"

# The console: a login through /ui/login, then its access-token cookie on
# every page request (one keep-alive connection: the latency is server time
# plus loopback).
jar="$work/cookies"
curl -sk -o /dev/null -c "$jar" -H "Origin: $base" --data-urlencode username=bench \
  --data-urlencode "password=$PW" "$base/ui/login"
cookie=$(awk '$6 == "headend_ui" {print "headend_ui=" $7}' "$jar")
[ -n "$cookie" ] || { echo "console login failed" >&2; exit 1; }
deep=$(( LEASES / 50 * 3 / 4 ))
for page in "/ui/leases" "/ui/leases?page=$deep" "/ui/leases?hostname=cpe-0999" "/ui/"; do
  rows=$(curl -sk -H "Cookie: $cookie" "$base$page" | grep -c '<tr data-address=' || true)
  echo "== console GET $page ($rows lease rows on the page): wrk -t1 -c1 -d${PAGE_DURATION}s"
  "${client_pin[@]}" wrk -t1 -c1 -d"${PAGE_DURATION}s" --latency -H "Cookie: $cookie" "$base$page" | tee "$work/page.txt"
  echo "  console $page: p50 $(pct "$work/page.txt" 50%), p99 $(pct "$work/page.txt" 99%), $(awk '/Requests\/sec/ {print $2}' "$work/page.txt") pages/s" >> "$work/pages-summary.txt"
done
echo
echo "console pages with $LEASES leases:"
cat "$work/pages-summary.txt"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
[ "${METRICS:-1}" = 0 ] || bench_metrics
