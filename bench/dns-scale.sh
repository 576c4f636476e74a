#!/usr/bin/env bash
# DNS scale benchmark: a generated 1,000,000-record zone served by headend and
# by Knot, each pinned to CPU 1. Prints load time (start until the zone
# answers), resident memory (VmRSS) once loaded, and UDP queries per
# server-CPU-second under dnsperf (pinned to CPU 0) over the big zone.
# load_cpu_s is the server's own CPU time (user+system, all threads) until it
# answers: on a shared machine it moves far less than the wall-clock load_s.
# Usage: bench/dns-scale.sh        (RECORDS=1000000 DURATION=10 ROUNDS=1; HEADEND_BIN=PATH
#        runs that binary, BASE_BIN=PATH adds another headend build as "base";
#        MIX=new makes 20 % of the records HTTPS, DS, RRSIG and two-string TXT)
# Traffic goes to 127.0.0.1 only and every run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-1000000}
DURATION=${DURATION:-10}
if [ -n "${HEADEND_BIN:-}" ]; then
  HEADEND=$HEADEND_BIN
else
  [ -n "${SKIP_BUILD:-}" ] || cargo build --release -p headend >&2
  HEADEND=$PWD/target/release/headend
fi
work=$(mktemp -d /tmp/headend-bench-scale.XXXXXX)
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

zone=$work/big.test.zone
python3 - "$zone" "$RECORDS" "${MIX:-}" <<'PY'
import sys
path, n, mix = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "new"
sig = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
with open(path, "w") as f:
    f.write("$ORIGIN big.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n")
    for i in range(n - 3):
        if mix and i % 5 == 3:
            kind = (i // 5) % 4
            if kind == 0:
                f.write(f"h{i} IN HTTPS 1 . alpn=h2,h3 ipv4hint=10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
            elif kind == 1:
                f.write(f"h{i} IN DS {i % 65536} 13 2 {i:064x}\n")
            elif kind == 2:
                f.write(f"h{i} IN RRSIG A 13 3 3600 20300101000000 20260101000000 {i % 65536} big.test. {sig}\n")
            else:
                f.write(f"h{i} IN TXT \"v=spf1 ip4:10.{(i >> 16) & 255}.{(i >> 8) & 255}.0/24\" \" ip4:192.0.2.{i & 255} -all\"\n")
        elif i % 10 == 9:
            f.write(f"h{i} IN AAAA 2001:db8::{i % 65536:x}:{i // 65536:x}\n")
        elif i % 50 == 7:
            f.write(f"h{i} IN TXT \"record {i}\"\n")
        else:
            f.write(f"h{i} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
PY
python3 - "$work/queries.txt" "$RECORDS" "${MIX:-}" <<'PY'
import random, sys
random.seed(2)
n = int(sys.argv[2]) - 3
mix = sys.argv[3] == "new"
with open(sys.argv[1], "w") as f:
    for _ in range(200000):
        i = random.randrange(n)
        t = "AAAA" if i % 10 == 9 else ("TXT" if i % 50 == 7 else "A")
        if mix and i % 5 == 3:
            t = ["HTTPS", "DS", "RRSIG", "TXT"][(i // 5) % 4]
        f.write(f"h{i}.big.test {t}\n")
PY

cat > "$work/headend.toml" <<EOF2
[general]
state_dir = "$work/hs"
[log]
level = "warn"
[dns]
listen = ["127.0.0.1:53541"]
[[dns.zone]]
origin = "big.test"
file = "$zone"
EOF2
mkdir -p "$work/knot"
cat > "$work/knot/knot.conf" <<EOF2
server:
    listen: 127.0.0.1@53542
    rundir: $work/knot
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $work/knot
log:
  - target: stderr
    any: warning
zone:
  - domain: big.test
    file: $zone
    storage: $work/knot
    semantic-checks: off
EOF2

measure() { # name port cmd...
  local name=$1 port=$2; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  taskset -c 1 "$@" 2>"$work/$name.log" &
  SPID=$!
  until dig @127.0.0.1 -p "$port" +time=1 +tries=1 +short h1.big.test A 2>/dev/null | grep -q "^10\.0\.0\.1$"; do
    kill -0 "$SPID" 2>/dev/null || { echo "$name died"; cat "$work/$name.log"; return 1; }
    sleep 0.05
  done
  t1=$(date +%s.%N)
  local cready
  cready=$(sed 's/^.*) //' "/proc/$SPID/stat" | awk '{print $12 + $13}')
  taskset -a -cp 1 "$SPID" >/dev/null
  local rss
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$SPID/status")
  local c0 c1 out
  c0=$(sed 's/^.*) //' "/proc/$SPID/stat" | awk '{print $12 + $13}')
  out=$(taskset -c 0 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$DURATION" -c 4 -q 500 -T 1 2>&1)
  c1=$(sed 's/^.*) //' "/proc/$SPID/stat" | awk '{print $12 + $13}')
  local completed qps
  completed=$(awk '/Queries completed:/ {print $3}' <<<"$out")
  qps=$(awk '/Queries per second:/ {printf "%.0f", $4}' <<<"$out")
  kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
  printf '%-8s load_s=%.2f load_cpu_s=%.2f rss_mib=%.0f qps=%s qps_per_cpu_s=%.0f\n' "$name" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
    "$(awk -v c="$cready" -v hz="$(getconf CLK_TCK)" 'BEGIN {print c / hz}')" \
    "$(awk -v r="$rss" 'BEGIN {print r / 1024}')" \
    "$qps" "$(awk -v c="$completed" -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN {print c / ((b - a) / hz)}')"
}

echo "zone: $RECORDS records${MIX:+ (mix: $MIX)}"
# Servers alternate; each load is measured from a cold start.
for _ in $(seq 1 "${ROUNDS:-1}"); do
  rm -rf "$work/hs"
  measure headend 53541 "$HEADEND" serve --config "$work/headend.toml"
  if [ -n "${BASE_BIN:-}" ]; then
    rm -rf "$work/hs"
    measure base 53541 "$BASE_BIN" serve --config "$work/headend.toml"
  fi
  measure knot 53542 knotd -c "$work/knot/knot.conf"
done
