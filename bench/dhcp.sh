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
# usage: bench/dhcp.sh [SECONDS]     (root; needs perfdhcp, kea-dhcp4, taskset)
# env:   RATES="10000 15000 20000 25000 30000"  ROUNDS=2  SERVERS="headend kea"
#        HEADEND_BIN=path   (use this binary instead of building target/release/headend)
#        BASE_BIN=path      (adds server "base": another headend build, e.g. the
#                            previous commit's, alternated with the others)
#        LEASE_LINES=1      headend writes its per-lease info lines (target
#                            headend::lease, to a file), and server "nolines"
#                            (the same binary with dhcp.log_leases = false) is
#                            alternated with it: the lines' cost, per CPU-second
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
TAG=$$
SNS=hdbs$TAG; CNS=hdbc$TAG; SIF=vbs$TAG; CIF=vbc$TAG
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    ip netns del "$SNS" 2>/dev/null || true
    ip netns del "$CNS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

RATES=${RATES:-10000 15000 20000 25000 30000}
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
cat > "$WORK/kea.json" <<EOT
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "$SIF" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "persist": true, "name": "$WORK/kea-leases.csv", "lfc-interval": 0 },
  "valid-lifetime": 3600,
  "subnet4": [ { "id": 1, "subnet": "10.99.0.0/16", "pools": [ { "pool": "10.99.1.0 - 10.99.196.79" } ],
                 "option-data": [ { "name": "routers", "data": "10.99.0.1" }, { "name": "domain-name-servers", "data": "10.99.0.1" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output_options": [ { "output": "$WORK/kea.log" } ] } ]
} }
EOT

start_server() {
    rm -rf "$WORK/state" "$WORK"/kea-leases.csv*
    case $1 in
    headend) ip netns exec "$SNS" taskset -c 1 "$BIN" serve --config "$WORK/headend.toml" 2>"$WORK/headend.log" &
             SERVER_PID=$! ;;
    nolines) ip netns exec "$SNS" taskset -c 1 "$BIN" serve --config "$WORK/nolines.toml" 2>"$WORK/nolines.log" &
             SERVER_PID=$! ;;
    base)    ip netns exec "$SNS" taskset -c 1 "$BASE_BIN" serve --config "$WORK/headend.toml" 2>"$WORK/base.log" &
             SERVER_PID=$! ;;
    kea)     KEA_PIDFILE_DIR="$WORK" KEA_LOCKFILE_DIR="$WORK" ip netns exec "$SNS" taskset -c 1 kea-dhcp4 -c "$WORK/kea.json" >"$WORK/kea.out" 2>&1 &
             SERVER_PID=$! ;;
    esac
    sleep 2
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

# UDP datagrams the kernel dropped for a full socket receive buffer in a namespace.
rcvbuf_errors() { ip netns exec "$1" awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp; }

run() { # server rate(0 = max)
    local server=$1 rate=$2 r
    start_server "$server"
    if [ "$rate" = 0 ]; then r=100000; else r=$rate; fi
    local out s0 c0 s1 c1
    s0=$(rcvbuf_errors "$SNS"); c0=$(rcvbuf_errors "$CNS")
    out=$(ip netns exec "$CNS" taskset -c 0 perfdhcp -4 -r "$r" -R 50000 -p "$SECS" -W 100000 -l 10.99.0.2 10.99.0.1 2>&1 || true)
    s1=$(rcvbuf_errors "$SNS"); c1=$(rcvbuf_errors "$CNS")
    # Server CPU (user + system clock ticks) over its life: start-up is noise.
    local ticks
    ticks=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0)
    stop_server
    local rate_s drops lat
    rate_s=$(awk '/^Rate:/ {print $2}' <<<"$out" | tail -1)
    drops=$(awk '/^drops:/ {print $2}' <<<"$out" | paste -sd/ -)
    lat=$(awk '/^avg delay: [0-9]/ {print $3}' <<<"$out" | paste -sd/ -)
    # Exchanges per second of server CPU: what the server costs per lease,
    # whoever set the rate.
    local per_cpu
    per_cpu=$(awk -v r="${rate_s:-0}" -v t="$ticks" -v s="$SECS" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { c = t / hz; if (c > 0) printf "%.0f", r * s / c; else print "?" }')
    printf '%-8s offered=%-7s exchanges/s=%-10s drops(D-O/R-A)=%-12s avg-delay-ms(D-O/R-A)=%-14s rcvbuf-overflows(server/perfdhcp)=%s/%s server-cpu=%s%% per-cpu-s=%s\n' \
        "$server" "$([ "$rate" = 0 ] && echo max || echo "$rate")" "${rate_s:-?}" "${drops:-?}" "${lat:-?}" \
        "$((s1 - s0))" "$((c1 - c0))" "$(awk -v t="$ticks" -v s="$SECS" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", 100 * t / hz / s }')" "$per_cpu"
    if [ "$server" = headend ] && [ -n "${LEASE_LINES:-}" ]; then
        echo "         lease lines written: $(grep -c 'headend::lease' "$WORK/headend.log" || true)"
    fi
    echo "$rate_s" > "$WORK/last"
    echo "$per_cpu" > "$WORK/last_cpu"
}

echo "perfdhcp $SECS s runs, 50,000 clients, 50,000-address pool; server on CPU 1, perfdhcp on CPU 0"
declare -A best cpu_sum cpu_n
for round in $(seq "$ROUNDS"); do
    for rate in $RATES; do
        for server in $SERVERS; do
            run "$server" "$rate"
            v=$(cat "$WORK/last"); v=${v%.*}
            for key in "$server-$rate" "$server-max"; do
                if [ -n "$v" ] && [ "${best[$key]:-0}" -lt "$v" ]; then best[$key]=$v; fi
            done
            c=$(cat "$WORK/last_cpu")
            if [[ $c =~ ^[0-9]+$ ]]; then
                cpu_sum[$server]=$(( ${cpu_sum[$server]:-0} + c )); cpu_n[$server]=$(( ${cpu_n[$server]:-0} + 1 ))
            fi
        done
    done
done
for rate in 10000 max; do
    h=${best[headend-$rate]:-0}; k=${best[kea-$rate]:-0}; b=${best[base-$rate]:-0}
    if [ "$k" -gt 0 ]; then
        printf 'offered=%s: headend %s/s vs Kea %s/s, ratio %s\n' "$rate" "$h" "$k" \
            "$(awk -v h="$h" -v k="$k" 'BEGIN { printf "%.2f", h / k }')"
    fi
    if [ "$b" -gt 0 ]; then
        printf 'offered=%s: headend %s/s vs base %s/s, ratio %s\n' "$rate" "$h" "$b" \
            "$(awk -v h="$h" -v b="$b" 'BEGIN { printf "%.2f", h / b }')"
    fi
done
if [ -n "${LEASE_LINES:-}" ] && [ "${cpu_n[headend]:-0}" -gt 0 ] && [ "${cpu_n[nolines]:-0}" -gt 0 ]; then
    on=$(( cpu_sum[headend] / cpu_n[headend] )); off=$(( cpu_sum[nolines] / cpu_n[nolines] ))
    printf 'exchanges per CPU-second, mean of every run: lease lines on %s, off %s, cost %s %% (target <= 5 %%)\n' \
        "$on" "$off" "$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.1f", 100 * (b - a) / b }')"
fi
echo "target: >= 20,000 durable exchanges/s for headend at max"
