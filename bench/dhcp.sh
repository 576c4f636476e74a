#!/usr/bin/env bash
# DHCPv4 benchmark: perfdhcp against headend and against Kea (kea-dhcp4,
# memfile backend) in network namespaces. Server pinned to CPU 1, perfdhcp to
# CPU 0; 50,000-address pool, 50,000 simulated clients, 15 s runs at
# 10,000/s offered and at 15,000, 20,000, 25,000 and 30,000/s (the maximum is the best
# of those: flooding perfdhcp at -r 100000 measures perfdhcp, not the server);
# servers alternated, two rounds.
# headend makes every lease durable (SQLite WAL, group commit, fdatasync of
# the WAL) before its ACK leaves; Kea's memfile never fsyncs.
#
# Two load generators, each in its own rows: perfdhcp (kept for comparability;
# one core of it tops out near 26,000 exchanges/s) and dhcp_load
# (crates/headend-dhcp/examples/dhcp_load.rs: batched system calls, a window
# of exchanges in flight, relay mode), which outruns the server. Every row
# gives the rate, the server's CPU share and exchanges per server-CPU-second;
# a server below ~95 % of its core was not the limit.
# The state lives on the checkout's disk (STATE_PARENT to change): on a tmpfs
# fsync is free, so the script refuses to report durable figures from one
# (ALLOW_TMPFS=1 runs anyway and labels every row "not durable").
#
# usage: bench/dhcp.sh [SECONDS]     (root; needs perfdhcp, kea-dhcp4, taskset)
# env:   RATES="10000 15000 20000 25000 30000"  ROUNDS=2  SERVERS="headend kea"
#        GENERATORS="perfdhcp dhcp_load"  STATE_PARENT=dir  ALLOW_TMPFS=1
#        LOADGEN=path       (a built dhcp_load; default: build it in release)
#        HEADEND_BIN=path   (use this binary instead of building target/release/headend)
#        PERF_DIR=dir       (record `perf record $PERF_ARGS`, default -g, of headend per run into dir)
#        BASE_BIN=path      (adds server "base": another headend build, e.g. the
#                            previous commit's, alternated with the others)
#        MULTICORE=1        two cores: every server and the generator may run on
#                            both CPUs (headend's worker and flush threads on
#                            their own cores; Kea with multi-threading, a pool
#                            of 2 threads); the generator shares the cores
#        LEASE_LINES=1      headend writes its per-lease info lines (target
#                            headend::lease, to a file), and server "nolines"
#                            (the same binary with dhcp.log_leases = false) is
#                            alternated with it: the lines' cost, per CPU-second
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
TAG=$$
SNS=hdbs$TAG; CNS=hdbc$TAG; SIF=vbs$TAG; CIF=vbc$TAG
STATE_PARENT=${STATE_PARENT:-$PWD/target/bench-state}
mkdir -p "$STATE_PARENT"
WORK=$(mktemp -d "$STATE_PARENT/dhcp.XXXXXX")
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    ip netns del "$SNS" 2>/dev/null || true
    ip netns del "$CNS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

RATES=${RATES:-10000 15000 20000 25000 30000}
if [ -n "${MULTICORE:-}" ]; then SRV_CPU=0-1; GEN_CPU=0-1; else SRV_CPU=1; GEN_CPU=0; fi
GENERATORS=${GENERATORS:-perfdhcp dhcp_load}
FSTYPE=$(stat -f -c %T "$WORK")
DURABLE=durable
if [ "$FSTYPE" = tmpfs ]; then
    if [ -z "${ALLOW_TMPFS:-}" ]; then
        echo "bench/dhcp.sh: $WORK is on tmpfs, where fsync costs nothing: no durable figure can be measured there (STATE_PARENT=a disk path, or ALLOW_TMPFS=1 to run labelled 'not durable')" >&2
        exit 1
    fi
    DURABLE="NOT durable (tmpfs)"
fi
ROUNDS=${ROUNDS:-2}
SERVERS=${SERVERS:-headend kea}
[ -n "${BASE_BIN:-}" ] && SERVERS="$SERVERS base"
[ -n "${LEASE_LINES:-}" ] && SERVERS="$SERVERS nolines"
if [ -n "${HEADEND_BIN:-}" ]; then
    BIN=$HEADEND_BIN
else
    cargo build --release -p headend >/dev/null
    BIN=$PWD/target/release/headend
fi
if [ -n "${LOADGEN:-}" ]; then
    :
elif [[ " $GENERATORS " == *" dhcp_load "* ]]; then
    LOADGEN=$PWD/target/release/examples/dhcp_load
    [ -x "$LOADGEN" ] && [ -n "${SKIP_BUILD:-}" ] \
        || cargo build --release -p headend-dhcp --example dhcp_load >&2
fi

ip netns add "$SNS"; ip netns add "$CNS"
ip link add "$SIF" netns "$SNS" type veth peer name "$CIF" netns "$CNS"
ip -n "$SNS" addr add 10.99.0.1/16 dev "$SIF"; ip -n "$CNS" addr add 10.99.0.2/16 dev "$CIF"
for ns in "$SNS" "$CNS"; do ip -n "$ns" link set lo up; done
ip -n "$SNS" link set "$SIF" up; ip -n "$CNS" link set "$CIF" up
sleep 1

# perfdhcp acts as a relay: giaddr = 10.99.0.2, so the subnet must contain it.
cat > "$WORK/headend.toml" <<EOT
[general]
state_dir = "$WORK/state"
[log]
level = "$([ -n "${LEASE_LINES:-}" ] && echo "warn,headend::lease=info" || echo warn)"
[dhcp]
interfaces = ["$SIF"]
server_id = "10.99.0.1"
rate_limit = { per_second = 100.0, burst = 100 }
[[dhcp.subnet]]
name = "bench"
subnet = "10.99.0.0/16"
pools = ["10.99.1.0-10.99.196.79"]
lease_time_secs = 3600
options = { routers = ["10.99.0.1"], domain_name_servers = ["10.99.0.1"] }
EOT
sed -e 's/^level = .*/level = "warn"/' -e 's/^\[dhcp\]$/[dhcp]\nlog_leases = false/' \
    "$WORK/headend.toml" >"$WORK/nolines.toml"
KEA_MT=""
if [ -n "${MULTICORE:-}" ]; then
  KEA_MT='"multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },'
fi
cat > "$WORK/kea.json" <<EOT
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "$SIF" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "persist": true, "name": "$WORK/kea-leases.csv", "lfc-interval": 0 },
  "valid-lifetime": 3600,
  $KEA_MT
  "subnet4": [ { "id": 1, "subnet": "10.99.0.0/16", "pools": [ { "pool": "10.99.1.0 - 10.99.196.79" } ],
                 "option-data": [ { "name": "routers", "data": "10.99.0.1" }, { "name": "domain-name-servers", "data": "10.99.0.1" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output_options": [ { "output": "$WORK/kea.log" } ] } ]
} }
EOT

start_server() {
    rm -rf "$WORK/state" "$WORK"/kea-leases.csv*
    case $1 in
    headend) ip netns exec "$SNS" taskset -c "$SRV_CPU" "$BIN" serve --config "$WORK/headend.toml" 2>"$WORK/headend.log" &
             SERVER_PID=$! ;;
    nolines) ip netns exec "$SNS" taskset -c "$SRV_CPU" "$BIN" serve --config "$WORK/nolines.toml" 2>"$WORK/nolines.log" &
             SERVER_PID=$! ;;
    base)    ip netns exec "$SNS" taskset -c "$SRV_CPU" "$BASE_BIN" serve --config "$WORK/headend.toml" 2>"$WORK/base.log" &
             SERVER_PID=$! ;;
    kea)     KEA_PIDFILE_DIR="$WORK" KEA_LOCKFILE_DIR="$WORK" ip netns exec "$SNS" taskset -c "$SRV_CPU" kea-dhcp4 -c "$WORK/kea.json" >"$WORK/kea.out" 2>&1 &
             SERVER_PID=$! ;;
    esac
    sleep 2
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

# UDP datagrams the kernel dropped for a full socket receive buffer in a namespace.
rcvbuf_errors() { ip netns exec "$1" awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# ticks_within PID SECONDS (bench/lib.sh), over this script's cpu_ticks.
. bench/lib.sh

run() { # generator server rate(0 = max)
    local gen=$1 server=$2 rate=$3 r
    start_server "$server"
    if [ "$rate" = 0 ]; then r=100000; else r=$rate; fi
    local out s0 c0 s1 c1 t0 t1
    s0=$(rcvbuf_errors "$SNS"); c0=$(rcvbuf_errors "$CNS")
    t0=$(cpu_ticks "$SERVER_PID")
    local perf_pid=""
    if [ -n "${PERF_DIR:-}" ] && [ "$server" = headend ]; then
        mkdir -p "$PERF_DIR"
        perf record -q ${PERF_ARGS:--g} -p "$SERVER_PID" -o "$PERF_DIR/headend-$gen-$rate.data" -- sleep "$SECS" 2>/dev/null &
        perf_pid=$!
    fi
    local rate_s drops lat gcpu gs
    if [ "$gen" = perfdhcp ]; then
        ip netns exec "$CNS" taskset -c "$GEN_CPU" perfdhcp -4 -r "$r" -R 50000 -p "$SECS" -W 100000 \
            -l 10.99.0.2 10.99.0.1 > "$WORK/perfdhcp.out" 2>&1 &
        local gpid=$!
        # perfdhcp's own CPU over its SECS seconds of load (read before it
        # exits; `ip netns exec` and taskset exec it, so the PID is its own).
        gs=$(awk -v t="$(ticks_within "$gpid" "$SECS")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
        wait "$gpid" || true
        out=$(cat "$WORK/perfdhcp.out")
        rate_s=$(awk '/^Rate:/ {print $2}' <<<"$out" | tail -1)
        drops=$(awk '/^drops:/ {print $2}' <<<"$out" | paste -sd/ -)
        lat="avg-delay-ms(D-O/R-A)=$(awk '/^avg delay: [0-9]/ {print $3}' <<<"$out" | paste -sd/ -)"
        gcpu=" generator-cpu-s=$gs ($(awk -v r="${rate_s:-0}" -v s="$SECS" -v g="${gs:-0}" 'BEGIN { if (g > 0) printf "%.0f", r * s / g; else print "?" }') exchanges per generator cpu-s)"
    else
        # dhcp_load: --rate 0 keeps WINDOW (1,024) exchanges in flight.
        local lr=$rate
        out=$(ip netns exec "$CNS" taskset -c "$GEN_CPU" "$LOADGEN" --server 10.99.0.1 --relay 10.99.0.2 \
              --clients 50000 --rate "$lr" --secs "$SECS" --window "${WINDOW:-1024}" 2>&1 || true)
        rate_s=$(sed -n 's/.*exchanges_per_sec=\([0-9]*\).*/\1/p' <<<"$out")
        drops="$(sed -n 's/.*timeouts=\([0-9]*\).*/\1/p' <<<"$out")+naks:$(sed -n 's/.*naks=\([0-9]*\).*/\1/p' <<<"$out")"
        lat="p50/p99-ms=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$out")/$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")"
        gs=$(sed -n 's/.*generator_cpu_s=\([0-9.]*\).*/\1/p' <<<"$out")
        # The generator's own capacity: exchanges per generator CPU-second.
        gcpu=" generator-cpu-s=$gs ($(awk -v r="${rate_s:-0}" -v s="$SECS" -v g="${gs:-0}" 'BEGIN { if (g > 0) printf "%.0f", r * s / g; else print "?" }') exchanges per generator cpu-s)"
        [ -z "$rate_s" ] && echo "dhcp_load: $out" >&2
    fi
    t1=$(cpu_ticks "$SERVER_PID")
    s1=$(rcvbuf_errors "$SNS"); c1=$(rcvbuf_errors "$CNS")
    [ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null || true
    stop_server
    local hz cpu_s busy per_cpu
    hz=$(getconf CLK_TCK)
    cpu_s=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
    busy=$(awk -v c="$cpu_s" -v s="$SECS" 'BEGIN { printf "%.0f", 100 * c / s }')
    per_cpu=$(awk -v r="${rate_s:-0}" -v s="$SECS" -v c="$cpu_s" 'BEGIN { if (c > 0) printf "%.0f", r * s / c; else print 0 }')
    printf '%-9s %-8s offered=%-7s exchanges/s=%-8s per-server-cpu-s=%-8s server-cpu=%3s%% drops=%-12s %s rcvbuf-overflows(server/client)=%s/%s%s%s\n' \
        "$gen" "$server" "$([ "$rate" = 0 ] && echo max || echo "$rate")" "${rate_s:-?}" "$per_cpu" "$busy" "${drops:-?}" "$lat" \
        "$((s1 - s0))" "$((c1 - c0))" "$gcpu" "$([ "${busy:-0}" -lt 95 ] && echo '  (server not saturated)')"
    if [ "$server" = headend ] && [ -n "${LEASE_LINES:-}" ]; then
        echo "          lease lines written: $(grep -c 'headend::lease' "$WORK/headend.log" || true)"
    fi
    echo "${rate_s:-0} $per_cpu $busy" > "$WORK/last"
}

echo "$SECS s runs, 50,000 clients, 50,000-address pool; server on CPU $SRV_CPU, generator on CPU $GEN_CPU${MULTICORE:+ (two cores: the generator shares them)}; state on $FSTYPE ($DURABLE)"
declare -A best bestcpu busyat cpu_sum cpu_n
for round in $(seq "$ROUNDS"); do
    for gen in $GENERATORS; do
        for rate in $RATES; do
            for server in $SERVERS; do
                run "$gen" "$server" "$rate"
                read -r v pc busy < "$WORK/last"; v=${v%.*}
                for key in "$gen-$server-$rate" "$gen-$server-max"; do
                    if [ -n "$v" ] && [ "${best[$key]:-0}" -lt "$v" ]; then best[$key]=$v; busyat[$key]=$busy; fi
                    if [ -n "$pc" ] && [ "${bestcpu[$key]:-0}" -lt "$pc" ]; then bestcpu[$key]=$pc; fi
                done
                if [[ $pc =~ ^[0-9]+$ ]] && [ "$pc" -gt 0 ]; then
                    cpu_sum[$server]=$(( ${cpu_sum[$server]:-0} + pc )); cpu_n[$server]=$(( ${cpu_n[$server]:-0} + 1 ))
                fi
            done
        done
    done
done
echo
echo "summary ($DURABLE; best of $ROUNDS round(s); per server-CPU-second is the figure to compare when a server was below 95 %):"
for gen in $GENERATORS; do
    for rate in ${RATES%% *} max; do
        for other in kea base; do
            h=${best[$gen-headend-$rate]:-0}; k=${best[$gen-$other-$rate]:-0}
            hc=${bestcpu[$gen-headend-$rate]:-0}; kc=${bestcpu[$gen-$other-$rate]:-0}
            if [ "$k" -gt 0 ]; then
                printf '%-9s offered=%s: headend %s/s (%s/cpu-s, cpu %s%%) vs %s %s/s (%s/cpu-s, cpu %s%%): ratio %s, per cpu-s %s\n' \
                    "$gen" "$rate" "$h" "$hc" "${busyat[$gen-headend-$rate]:-?}" "$other" "$k" "$kc" "${busyat[$gen-$other-$rate]:-?}" \
                    "$(awk -v h="$h" -v k="$k" 'BEGIN { printf "%.2f", h / k }')" \
                    "$(awk -v h="$hc" -v k="$kc" 'BEGIN { if (k > 0) printf "%.2f", h / k; else print "n/a" }')"
            fi
        done
    done
done
if [ -n "${LEASE_LINES:-}" ] && [ "${cpu_n[headend]:-0}" -gt 0 ] && [ "${cpu_n[nolines]:-0}" -gt 0 ]; then
    on=$(( cpu_sum[headend] / cpu_n[headend] )); off=$(( cpu_sum[nolines] / cpu_n[nolines] ))
    printf 'exchanges per CPU-second, mean of every run: lease lines on %s, off %s, cost %s %% (target <= 5 %%)\n' \
        "$on" "$off" "$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.1f", 100 * (b - a) / b }')"
fi
echo "targets: >= 20,000 durable exchanges/s for headend at max; >= 1.5x Kea per server-CPU-second"
