#!/usr/bin/env bash
# RFC 2136 update benchmark: headend vs Knot vs BIND 9, each serving its own
# copy of the same small zone on loopback, each durable (headend's update
# journal, fsynced before the answer; Knot's journal; BIND's .jnl). The load
# (bench/dns_update_load.py) is 8 concurrent clients, one UPDATE in flight
# each, every message one A add + one delete, TSIG hmac-sha256 signed.
# Servers pinned to CPU 1, the load to CPU 0 (as bench/dns.sh). Rows:
# unsigned, and signed (ECDSA P-256, NSEC3; DNSSEC=0 skips it). Prints the
# update rate, and updates per server-CPU-second (utime+stime of the server
# from /proc/PID/stat over the run), and headend's ratio to Knot and BIND.
#
# Usage: bench/dns-update.sh   (DURATION=10 CLIENTS=8 SERVERS="headend knot bind"
#        HEADEND_BIN=PATH to skip the release build; DNSSEC=0 unsigned only)
# Traffic goes to 127.0.0.1 only; each run ends by itself after DURATION s.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-8}
SERVERS=${SERVERS:-headend knot bind}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
HZ=$(getconf CLK_TCK)
SECRET="3q2+7wEjRWeJq83vASNFZ4mrze8BI0VniavN7wEjRWc="

for p in knotd named taskset python3; do
  command -v "$p" >/dev/null || { echo "missing $p: apt-get install knot bind9 util-linux python3" >&2; exit 1; }
done
if [ -n "${HEADEND_BIN:-}" ]; then
  HEADEND=$HEADEND_BIN
else
  cargo build --release -p headend >&2
  HEADEND=$PWD/target/release/headend
fi

work=$(mktemp -d /tmp/headend-bench-upd.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

zone_text() {
  echo '$ORIGIN upd.test.'
  echo '$TTL 300'
  echo '@ IN SOA ns1 hostmaster 1 3600 600 86400 60'
  echo '@ IN NS ns1'
  echo 'ns1 IN A 127.0.0.1'
  for i in $(seq 1 200); do echo "h$i IN A 192.0.2.$((i % 250 + 1))"; done
}

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

wait_port() {
  for _ in $(seq 1 100); do
    if dig @127.0.0.1 -p "$1" +short +tries=1 +time=1 upd.test SOA >/dev/null 2>&1 \
      && [ -n "$(dig @127.0.0.1 -p "$1" +short +tries=1 +time=1 upd.test SOA)" ]; then
      return 0
    fi
    sleep 0.2
  done
  echo "server on port $1 did not answer" >&2
  return 1
}

# start_SERVER DIR SIGNED PORT: starts the server in the background, sets pid.
start_headend() {
  local dir=$1 signed=$2 port=$3 dnssec=""
  [ "$signed" = 1 ] && dnssec='dnssec = { algorithm = "ecdsap256sha256", denial = "nsec3" }'
  cat > "$dir/headend.toml" <<EOF
[general]
state_dir = "$dir/state"
[log]
level = "warn"
[dns]
listen = ["127.0.0.1:$port"]
udp_workers = 1
[[dns.tsig_key]]
name = "upd-key"
secret = "$SECRET"
[[dns.zone]]
origin = "upd.test"
file = "$dir/upd.test.zone"
update_policy = [ { key = "upd-key" } ]
$dnssec
EOF
  taskset -c "$SERVER_CPU" "$HEADEND" serve --config "$dir/headend.toml" >"$dir/log" 2>&1 &
  pid=$!
}

start_knot() {
  local dir=$1 signed=$2 port=$3 dnssec="" policy=""
  if [ "$signed" = 1 ]; then
    policy="policy:
  - id: p256
    algorithm: ecdsap256sha256
    nsec3: on
    nsec3-iterations: 0
    nsec3-salt-length: 0"
    dnssec="    dnssec-signing: on
    dnssec-policy: p256"
  fi
  cat > "$dir/knot.conf" <<EOF
server:
    listen: 127.0.0.1@$port
    rundir: $dir
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $dir
log:
  - target: stderr
    any: warning
key:
  - id: upd-key
    algorithm: hmac-sha256
    secret: $SECRET
acl:
  - id: upd
    key: upd-key
    action: update
$policy
zone:
  - domain: upd.test
    file: $dir/upd.test.zone
    storage: $dir
    acl: upd
    zonefile-sync: -1
    zonefile-load: difference-no-serial
    journal-content: all
$dnssec
EOF
  taskset -c "$SERVER_CPU" knotd -c "$dir/knot.conf" >"$dir/log" 2>&1 &
  pid=$!
}

start_bind() {
  local dir=$1 signed=$2 port=$3 dnssec=""
  if [ "$signed" = 1 ]; then
    dnssec='dnssec-policy "p256";'
    cat > "$dir/policy.conf" <<EOF
dnssec-policy "p256" {
  keys { csk lifetime unlimited algorithm ecdsap256sha256; };
  nsec3param iterations 0 optout no salt-length 0;
};
EOF
  else
    : > "$dir/policy.conf"
  fi
  cat > "$dir/named.conf" <<EOF
options {
  directory "$dir";
  pid-file "$dir/named.pid";
  listen-on port $port { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  notify no;
};
key "upd-key" { algorithm hmac-sha256; secret "$SECRET"; };
include "$dir/policy.conf";
zone "upd.test" {
  type primary;
  file "$dir/upd.test.zone";
  update-policy { grant upd-key zonesub ANY; };
  $dnssec
};
EOF
  taskset -c "$SERVER_CPU" named -g -n 1 -c "$dir/named.conf" >"$dir/log" 2>&1 &
  pid=$!
}

declare -A RATE PERCPU
rows="0"; [ "${DNSSEC:-1}" = 0 ] || rows="0 1"
for signed in $rows; do
  row=$([ "$signed" = 1 ] && echo signed || echo unsigned)
  port=54530
  for s in $SERVERS; do
    port=$((port + 1))
    dir=$work/$s-$row
    mkdir -p "$dir"
    zone_text > "$dir/upd.test.zone"
    "start_$s" "$dir" "$signed" "$port"
    wait_port "$port"
    # A signed zone: wait until it is served signed.
    if [ "$signed" = 1 ]; then
      for _ in $(seq 1 100); do
        dig @127.0.0.1 -p "$port" +dnssec +short upd.test SOA | grep -q RRSIG && break
        sleep 0.2
      done
    fi
    before=$(cpu_ticks "$pid")
    out=$(taskset -c "$CLIENT_CPU" python3 bench/dns_update_load.py "$port" upd.test upd-key "$SECRET" "$DURATION" "$CLIENTS")
    after=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    ok=$(echo "$out" | sed 's/.*ok=\([0-9]*\).*/\1/')
    rate=$(echo "$out" | sed 's/.*rate=\([0-9]*\).*/\1/')
    cpu=$(awk -v t=$((after - before)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')
    percpu=$(awk -v ok="$ok" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", ok / c; else print "inf" }')
    RATE[$s-$row]=$rate; PERCPU[$s-$row]=$percpu
    printf '%-8s %-8s %s cpu=%ss updates/cpu-s=%s\n' "$row" "$s" "$out" "$cpu" "$percpu"
  done
  for s in $SERVERS; do
    [ "$s" = headend ] && continue
    awk -v a="${RATE[headend-$row]:-0}" -v b="${RATE[$s-$row]:-0}" -v c="${PERCPU[headend-$row]:-0}" -v d="${PERCPU[$s-$row]:-0}" -v s="$s" -v r="$row" \
      'BEGIN { if (b > 0 && d > 0) printf "%-8s headend/%s: %.2fx updates/s, %.2fx updates per CPU-second\n", r, s, a / b, c / d }'
  done
done
