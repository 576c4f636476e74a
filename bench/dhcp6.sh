#!/usr/bin/env bash
# DHCPv6 benchmark: perfdhcp -6 against headend and against Kea's DHCPv6
# server (kea-dhcp6, memfile backend) in network namespaces joined by a veth
# pair (link-local addresses only, perfdhcp sends to ff02::1:2). Server
# pinned to CPU 1, perfdhcp to CPU 0. Two rows: the 4-way exchange
# SOLICIT/ADVERTISE/REQUEST/REPLY with IA_NA, and with IA_NA + IA_PD
# (perfdhcp -e address-and-prefix). 50,000 simulated clients, a pool of
# 65,536 addresses and one of 65,536 /56 prefixes; servers alternated, the
# best of ROUNDS runs per rate kept.
# headend makes every binding durable (SQLite WAL, group commit, fdatasync)
# before its REPLY leaves; Kea's memfile never fsyncs.
#
# usage: bench/dhcp6.sh [SECONDS]     (root; needs perfdhcp, kea-dhcp6, taskset)
# env:   RATES="5000 10000 20000"  ROUNDS=2  SERVERS="headend kea"
#        HEADEND_BIN=path   (use this binary instead of building target/release/headend)
#        MODES="na pd"
#        BASE_BIN=path      (adds server "base": another headend build, e.g. the
#                            previous commit's, alternated with the others)
#        PERF_DIR=dir       (record `perf record $PERF_ARGS`, default -g, of headend per run into dir)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
TAG=$$
SNS=hd6bs$TAG; CNS=hd6bc$TAG; SIF=v6bs$TAG; CIF=v6bc$TAG
# State on the checkout's disk: on a tmpfs fsync is free (see bench/dhcp.sh).
STATE_PARENT=${STATE_PARENT:-$PWD/target/bench-state}
mkdir -p "$STATE_PARENT"
WORK=$(mktemp -d "$STATE_PARENT/dhcp6.XXXXXX")
FSTYPE=$(stat -f -c %T "$WORK")
DURABLE=durable
if [ "$FSTYPE" = tmpfs ]; then
    if [ -z "${ALLOW_TMPFS:-}" ]; then
        echo "bench/dhcp6.sh: $WORK is on tmpfs, where fsync costs nothing (STATE_PARENT=a disk path, or ALLOW_TMPFS=1)" >&2
        rm -rf "$WORK"; exit 1
    fi
    DURABLE="NOT durable (tmpfs)"
fi
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    ip netns del "$SNS" 2>/dev/null || true
    ip netns del "$CNS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

RATES=${RATES:-5000 10000 20000}
ROUNDS=${ROUNDS:-2}
SERVERS=${SERVERS:-headend kea}
MODES=${MODES:-na pd}
[ -n "${BASE_BIN:-}" ] && SERVERS="$SERVERS base"
if [ -n "${HEADEND_BIN:-}" ]; then
    BIN=$HEADEND_BIN
else
    cargo build --release -p headend >/dev/null
    BIN=$PWD/target/release/headend
fi

ip netns add "$SNS"; ip netns add "$CNS"
for ns in "$SNS" "$CNS"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
    ip -n "$ns" link set lo up
done
ip link add "$SIF" netns "$SNS" type veth peer name "$CIF" netns "$CNS"
ip -n "$SNS" addr add 2001:db8:99::1/64 dev "$SIF"
ip -n "$SNS" link set "$SIF" up; ip -n "$CNS" link set "$CIF" up
sleep 1

cat > "$WORK/headend.toml" <<EOT
[general]
state_dir = "$WORK/state"
[log]
level = "warn"
[dhcp6]
interfaces = ["$SIF"]
rate_limit = { per_second = 100.0, burst = 100 }
options = { dns_servers = ["2001:db8:99::1"] }
[[dhcp6.subnet]]
name = "bench"
prefix = "2001:db8:99::/64"
interface = "$SIF"
pools = ["2001:db8:99::1:0-2001:db8:99::1:ffff"]
pd_pools = [{ prefix = "2001:db8:c000::/40", delegated_len = 56 }]
EOT
cat > "$WORK/kea.json" <<EOT
{ "Dhcp6": {
  "interfaces-config": { "interfaces": [ "$SIF" ] },
  "lease-database": { "type": "memfile", "persist": true, "name": "$WORK/kea-leases6.csv", "lfc-interval": 0 },
  "server-id": { "type": "LLT", "persist": false },
  "preferred-lifetime": 3600, "valid-lifetime": 7200,
  "subnet6": [ { "id": 1, "subnet": "2001:db8:99::/64", "interface": "$SIF",
                 "pools": [ { "pool": "2001:db8:99::1:0 - 2001:db8:99::1:ffff" } ],
                 "pd-pools": [ { "prefix": "2001:db8:c000::", "prefix-len": 40, "delegated-len": 56 } ],
                 "option-data": [ { "name": "dns-servers", "data": "2001:db8:99::1" } ] } ],
  "loggers": [ { "name": "kea-dhcp6", "severity": "WARN", "output_options": [ { "output": "$WORK/kea.log" } ] } ]
} }
EOT

start_server() {
    rm -rf "$WORK/state" "$WORK"/kea-leases6.csv*
    case $1 in
    headend) ip netns exec "$SNS" taskset -c 1 "$BIN" serve --config "$WORK/headend.toml" 2>"$WORK/headend.log" &
             SERVER_PID=$! ;;
    base)    ip netns exec "$SNS" taskset -c 1 "$BASE_BIN" serve --config "$WORK/headend.toml" 2>"$WORK/base.log" &
             SERVER_PID=$! ;;
    kea)     KEA_PIDFILE_DIR="$WORK" KEA_LOCKFILE_DIR="$WORK" ip netns exec "$SNS" taskset -c 1 kea-dhcp6 -c "$WORK/kea.json" >"$WORK/kea.out" 2>&1 &
             SERVER_PID=$! ;;
    esac
    sleep 2
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

run() { # server rate mode(na|pd)
    local server=$1 rate=$2 mode=$3 out extra=()
    [ "$mode" = pd ] && extra=(-e address-and-prefix)
    start_server "$server"
    local t0 t1
    t0=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0)
    local perf_pid=""
    if [ -n "${PERF_DIR:-}" ] && [ "$server" = headend ]; then
        mkdir -p "$PERF_DIR"
        perf record -q ${PERF_ARGS:--g} -p "$SERVER_PID" -o "$PERF_DIR/headend-$mode-$rate.data" -- sleep "$SECS" 2>/dev/null &
        perf_pid=$!
    fi
    out=$(ip netns exec "$CNS" taskset -c 0 perfdhcp -6 -r "$rate" -R 50000 -p "$SECS" "${extra[@]}" -l "$CIF" 2>&1 || true)
    t1=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0)
    [ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null || true
    stop_server
    local rate_s drops lat cpu_s busy per_cpu
    rate_s=$(awk '/^Rate:/ {print $2}' <<<"$out" | tail -1)
    drops=$(awk '/^drops:/ {print $2}' <<<"$out" | paste -sd/ -)
    lat=$(awk '/^avg delay: [0-9]/ {print $3}' <<<"$out" | paste -sd/ -)
    cpu_s=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')
    busy=$(awk -v c="$cpu_s" -v s="$SECS" 'BEGIN { printf "%.0f", 100 * c / s }')
    per_cpu=$(awk -v r="${rate_s:-0}" -v s="$SECS" -v c="$cpu_s" 'BEGIN { if (c > 0) printf "%.0f", r * s / c; else print 0 }')
    printf '%-8s %-3s offered=%-6s exchanges/s=%-10s per-server-cpu-s=%-8s server-cpu=%3s%% drops(S-A/R-R)=%-12s avg-delay-ms(S-A/R-R)=%s\n' \
        "$server" "$mode" "$rate" "${rate_s:-?}" "$per_cpu" "$busy" "${drops:-?}" "${lat:-?}"
    echo "${rate_s:-0} $per_cpu" > "$WORK/last"
}

echo "perfdhcp -6, $SECS s runs, 50,000 clients; server on CPU 1, perfdhcp on CPU 0; state on $FSTYPE ($DURABLE)"
declare -A best bestcpu
for round in $(seq "$ROUNDS"); do
    for mode in $MODES; do
        for rate in $RATES; do
            for server in $SERVERS; do
                run "$server" "$rate" "$mode"
                read -r v pc < "$WORK/last"; v=${v%.*}
                key="$server-$mode"
                if [ -n "$v" ] && [ "${best[$key]:-0}" -lt "$v" ]; then best[$key]=$v; fi
                if [ -n "$pc" ] && [ "${bestcpu[$key]:-0}" -lt "$pc" ]; then bestcpu[$key]=$pc; fi
            done
        done
    done
done
for mode in $MODES; do
    h=${best[headend-$mode]:-0}; k=${best[kea-$mode]:-0}
    if [ "$k" -gt 0 ]; then
        hc=${bestcpu[headend-$mode]:-0}; kc=${bestcpu[kea-$mode]:-0}
        printf '%s: headend %s/s (%s/cpu-s) vs Kea %s/s (%s/cpu-s), ratio %s, per cpu-s %s\n' "$mode" "$h" "$hc" "$k" "$kc" \
            "$(awk -v h="$h" -v k="$k" 'BEGIN { printf "%.2f", h / k }')" \
            "$(awk -v h="$hc" -v k="$kc" 'BEGIN { if (k > 0) printf "%.2f", h / k; else print "n/a" }')"
    fi
done
if [ -n "${BASE_BIN:-}" ]; then
    for mode in $MODES; do
        printf '%s: headend %s/cpu-s vs base %s/cpu-s, ratio %s\n' "$mode" "${bestcpu[headend-$mode]:-0}" "${bestcpu[base-$mode]:-0}" \
            "$(awk -v h="${bestcpu[headend-$mode]:-0}" -v b="${bestcpu[base-$mode]:-0}" 'BEGIN { if (b > 0) printf "%.2f", h / b; else print "n/a" }')"
    done
fi
echo "target: headend >= 1.2x Kea with every binding durable"
