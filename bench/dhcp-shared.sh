#!/usr/bin/env bash
# DHCPv4 on one PostgreSQL: one and two headend servers against Kea 2.2
# (kea-dhcp4, PostgreSQL lease backend; two Kea servers with the HA hook
# libdhcp_ha.so in load-balancing mode), same machine, same private
# PostgreSQL cluster (synchronous_commit on, fsync on), a load generator as
# a relay: dhcp_load (crates/headend-dhcp/examples/dhcp_load.rs) by default,
# GENERATOR=perfdhcp for one-server rows (perfdhcp cannot send to a broadcast
# address, so it cannot drive two servers at once).
#
# Topology: perfdhcp in a client namespace with a bridge; each server in its
# own namespace joined to the bridge. One server: perfdhcp unicasts to it.
# Two servers: the generator sends to the subnet's broadcast address, so both
# hear every request and each answers its half (load-balancing; headend's
# [dhcp.ha] and Kea's HA hook both use the RFC 3074 hash).
# Reports exchanges/s (perfdhcp's rate of completed DORA), drops, and
# exchanges per server-CPU-second (servers' user+system ticks), and the CPU
# PostgreSQL (postmaster and its processes) and the generator used meanwhile.
#
# usage: bench/dhcp-shared.sh [SECONDS]   (root; perfdhcp, kea-dhcp4, postgresql)
# env:   RATES="2000 5000 10000 20000"  SETUPS="headend1 headend2 kea1 kea2"
#        HEADEND_BIN=path (else target/release/headend is built)
#        LOADGEN=path (a built dhcp_load; else built in release)  GENERATOR=dhcp_load|perfdhcp
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
TAG=$$
CNS=hdsc$TAG; ANS=hdsa$TAG; BNS=hdsb$TAG
WORK=$(mktemp -d); chmod 755 "$WORK"
PIDS=()
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$WORK/pg/data/postmaster.pid" ] && kill -INT "$(head -1 "$WORK/pg/data/postmaster.pid")" 2>/dev/null || true
    sleep 1
    for ns in "$CNS" "$ANS" "$BNS"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
RATES=${RATES:-2000 5000 10000 20000}
SETUPS=${SETUPS:-headend1 headend2 kea1 kea2}
if [ -n "${HEADEND_BIN:-}" ]; then BIN=$HEADEND_BIN; else
    cargo build --release -p headend >/dev/null; BIN=$PWD/target/release/headend; fi
GENERATOR=${GENERATOR:-dhcp_load}
if [ "$GENERATOR" = dhcp_load ] && [ -z "${LOADGEN:-}" ]; then
    cargo build --release -p headend-dhcp --example dhcp_load >&2
    LOADGEN=$PWD/target/release/examples/dhcp_load
fi

# A private PostgreSQL cluster on a Unix socket in $WORK (as postgres when root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$WORK/pg"; chown postgres "$WORK/pg" 2>/dev/null || true
as_pg "$PG_BIN/initdb" -D "$WORK/pg/data" -A trust -U postgres >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
    -o "-k $WORK/pg -c listen_addresses= -c synchronous_commit=on -c fsync=on -c max_connections=50" start >/dev/null
psql_() { as_pg psql -h "$WORK/pg" -U postgres -qAt "$@"; }

# Namespaces: clients with a bridge (10.98.0.2), server a (10.98.0.1), b (10.98.0.3).
for ns in "$CNS" "$ANS" "$BNS"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$CNS" link add br0 address 02:b0:00:00:00:02 type bridge
for x in a b; do
    ns=$([ $x = a ] && echo "$ANS" || echo "$BNS"); ip=$([ $x = a ] && echo 1 || echo 3)
    ip link add "vs$x$TAG" netns "$ns" type veth peer name "vc$x$TAG" netns "$CNS"
    ip -n "$ns" addr add "10.98.0.$ip/16" dev "vs$x$TAG"; ip -n "$ns" link set "vs$x$TAG" up
    ip -n "$CNS" link set "vc$x$TAG" master br0; ip -n "$CNS" link set "vc$x$TAG" up
done
ip -n "$CNS" addr add 10.98.0.2/16 dev br0; ip -n "$CNS" link set br0 up
sleep 1

headend_conf() { # name mode
    local x=$1 ip; ip=$([ "$1" = a ] && echo 1 || echo 3)
    cat > "$WORK/headend-$x.toml" <<EOT
[general]
state_dir = "$WORK/state-$x"
[log]
level = "warn"
[store]
backend = "postgres"
url = "host=$WORK/pg dbname=bench user=postgres"
[dhcp]
interfaces = ["vs$x$TAG"]
server_id = "10.98.0.$ip"
rate_limit = { per_second = 100.0, burst = 100 }
[[dhcp.subnet]]
name = "bench"
subnet = "10.98.0.0/16"
interface = "vs$x$TAG"
pools = ["10.98.1.0-10.98.196.79"]
lease_time_secs = 3600
options = { routers = ["10.98.0.1"] }
[dhcp.ha]
mode = "$2"
this_server = "$x"
servers = [$([ "$2" = shared ] && echo '"a"' || echo '"a", "b"')]
heartbeat_secs = 1.0
takeover_secs = 10.0
EOT
}

kea_conf() { # name peers(1|2)
    local x=$1 ip; ip=$([ "$1" = a ] && echo 1 || echo 3)
    local hooks=""
    if [ "$2" = 2 ]; then
        hooks=$(cat <<EOT
  "hooks-libraries": [
    { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so" },
    { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_ha.so", "parameters": { "high-availability": [ {
        "this-server-name": "$x", "mode": "load-balancing",
        "send-lease-updates": false, "sync-leases": false,
        "heartbeat-delay": 1000, "max-response-delay": 10000, "max-ack-delay": 5000, "max-unacked-clients": 0,
        "multi-threading": { "enable-multi-threading": true, "http-dedicated-listener": true, "http-listener-threads": 1, "http-client-threads": 1 },
        "peers": [ { "name": "a", "url": "http://10.98.0.1:8001/", "role": "primary", "auto-failover": true },
                   { "name": "b", "url": "http://10.98.0.3:8001/", "role": "secondary", "auto-failover": true } ] } ] } } ],
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 4, "packet-queue-size": 64 },
EOT
)
    fi
    cat > "$WORK/kea-$x.json" <<EOT
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "vs$x$TAG" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "postgresql", "name": "bench", "user": "postgres", "host": "$WORK/pg" },
  "valid-lifetime": 3600,
$hooks
  "subnet4": [ { "id": 1, "subnet": "10.98.0.0/16", "interface": "vs$x$TAG", "pools": [ { "pool": "10.98.1.0 - 10.98.196.79" } ],
                 "option-data": [ { "name": "routers", "data": "10.98.0.1" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output_options": [ { "output": "$WORK/kea-$x.log" } ] } ]
} }
EOT
}

fresh_db() {
    psql_ -d postgres -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench"
    case $1 in kea*) kea-admin db-init pgsql -n bench -u postgres -h "$WORK/pg" >/dev/null 2>&1 \
        || psql_ -d bench -f /usr/share/kea/scripts/pgsql/dhcpdb_create.pgsql >/dev/null ;; esac
}

start() { # setup
    local n=${1: -1} kind=${1%?} x ns
    fresh_db "$1"
    PIDS=()
    for x in a b; do
        [ "$x" = b ] && [ "$n" = 1 ] && break
        ns=$([ $x = a ] && echo "$ANS" || echo "$BNS")
        if [ "$kind" = headend ]; then
            headend_conf "$x" "$([ "$n" = 2 ] && echo load-balancing || echo shared)"
            ip netns exec "$ns" "$BIN" serve --config "$WORK/headend-$x.toml" 2>"$WORK/headend-$x.log" &
        else
            kea_conf "$x" "$n"
            mkdir -p "$WORK/$x"
            KEA_PIDFILE_DIR="$WORK" KEA_LOCKFILE_DIR="$WORK/$x" ip netns exec "$ns" kea-dhcp4 -c "$WORK/kea-$x.json" >"$WORK/kea-$x.out" 2>&1 &
        fi
        PIDS+=($!)
    done
    sleep 4
    if [ "$1" = kea2 ]; then
        # Kea's HA servers answer only once both reached load-balancing.
        local i st
        for i in $(seq 1 60); do
            st=$(ip netns exec "$CNS" curl -s -m 1 -X POST -H 'Content-Type: application/json' http://10.98.0.1:8001/ \
                 -d '{"command": "ha-heartbeat", "service": ["dhcp4"]}' 2>/dev/null || true)
            grep -Eq '"state": *"load-balancing"' <<<"$st" && break
            sleep 0.5
        done
        grep -Eq '"state": *"load-balancing"' <<<"$st" || echo "kea2: HA did not reach load-balancing: $st" >&2
    fi
}
stop() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; PIDS=(); }
ticks() { local t=0 p; for p in "${PIDS[@]}"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
# PostgreSQL's CPU ticks: the postmaster and every process it started
# (backends, WAL writer, checkpointer), live ones only: the servers'
# connections stay open for the whole measured run.
pg_ticks() {
    local master t=0 p
    master=$(head -1 "$WORK/pg/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
    for p in "$master" $(ps -o pid= --ppid "$master" 2>/dev/null); do
        t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0)))
    done
    echo "$t"
}

run() { # setup rate
    local setup=$1 rate=$2 target out t0 t1
    start "$setup"
    target=$([ "${setup: -1}" = 2 ] && echo 10.98.255.255 || echo 10.98.0.1)
    t0=$(ticks); p0=$(pg_ticks)
    if [ "$GENERATOR" = perfdhcp ]; then
        out=$(ip netns exec "$CNS" perfdhcp -4 -r "$rate" -R 50000 -p "$SECS" -W 2000000 -l 10.98.0.2 "$target" 2>&1 || true)
    else
        # Two servers: every request goes to both, as a relay agent with two
        # server addresses forwards it (Kea's UDP sockets do not hear a
        # broadcast sent to a relay's port).
        local servers=(--server 10.98.0.1)
        [ "${setup: -1}" = 2 ] && servers+=(--server 10.98.0.3)
        out=$(ip netns exec "$CNS" "$LOADGEN" "${servers[@]}" --relay 10.98.0.2 --clients 50000 \
              --rate "$rate" --secs "$SECS" --window "${WINDOW:-1024}" 2>&1 || true)
        # The same two lines perfdhcp prints, from dhcp_load's figures.
        out+=$'\n'"Rate: $(sed -n 's/.*exchanges_per_sec=\([0-9]*\).*/\1/p' <<<"$out")"
        out+=$'\n'"drops: $(sed -n 's/.*timeouts=\([0-9]*\).*/\1/p' <<<"$out")"
        grep -q 'ok=1' <<<"$out" || out=$(grep -v '^Rate:' <<<"$out")
    fi
    t1=$(ticks); p1=$(pg_ticks)
    stop
    local rate_s drops cpu pg_cpu gen_cpu
    if ! grep -q '^Rate: *[1-9]' <<<"$out"; then
        # A run without a rate: say why (perfdhcp's words and the servers' logs).
        { echo "$setup: perfdhcp gave no rate:"; tail -n 5 <<<"$out"
          for f in "$WORK"/headend-?.log "$WORK"/kea-?.out "$WORK"/kea-?.log; do
              [ -s "$f" ] && { echo "--- $f"; tail -n 5 "$f"; }; done; } >&2
    fi
    rate_s=$(awk '/^Rate:/ {print $2}' <<<"$out" | tail -1)
    drops=$(awk '/^drops:/ {print $2}' <<<"$out" | paste -sd/ -)
    cpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
    pg_cpu=$(awk -v t="$((p1 - p0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
    gen_cpu=$(sed -n 's/.*generator_cpu_s=\([0-9.]*\).*/\1/p' <<<"$out")
    printf '%-9s offered=%-6s exchanges/s=%-9s drops(D-O/R-A)=%-12s server-cpu-s=%-6s per-cpu-s=%-7s postgres-cpu-s=%-6s generator-cpu-s=%s\n' \
        "$setup" "$rate" "${rate_s:-?}" "${drops:-?}" "$cpu" \
        "$(awk -v r="${rate_s:-0}" -v s="$SECS" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", r * s / c; else print "?" }')" \
        "$pg_cpu" "${gen_cpu:-n/a}"
}

echo "$GENERATOR $SECS s runs, 50,000 clients; one PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}') (synchronous_commit=on)"
for rate in $RATES; do for setup in $SETUPS; do run "$setup" "$rate"; done; done
