#!/usr/bin/env bash
# The reboot storm (issue 19): N cable modems return at once; each does DORA
# through a relay with option 82, fetches its own config by TFTP and must be
# resolvable by name (DDNS, cm-<mac>.modems.storm.). One generator
# (crates/headend-dhcp/examples/storm_load.rs, one thread) runs in its own
# network namespace with at most WINDOW modems in flight, against
#   headend: DHCP + DNS + TFTP in one process, names published in-process,
#            per-modem config rendered from a template;
#   anchor:  Kea dhcp4 (memfile) + kea-dhcp-ddns (D2) sending TSIG-signed
#            RFC 2136 updates to Knot + tftpd-hpa serving N pre-rendered files.
# Each server set is pinned to core 0 (taskset), the generator to core 1.
# Prints per stack: done/failed/secs/modems per second/p50/p99, the
# generator's CPU seconds, the servers' CPU seconds (sum over their
# processes, /proc/PID/stat, during the run) and modems per server-CPU-second;
# then the ratio headend/anchor of modems/s.
#
# Usage: bench/storm.sh   (N=5000 WINDOW=256 SERVERS="headend anchor"
#                          HEADEND_BIN=PATH to skip the build, LIMIT=120 s,
#                          STORM_LOAD=PATH a built storm_load example)
# Needs root (network namespaces). Traffic stays inside the two namespaces
# the script creates (and deletes).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}
WINDOW=${WINDOW:-256}
SERVERS=${SERVERS:-headend anchor}
LIMIT=${LIMIT:-120}
CPU_SERVER=${CPU_SERVER:-0}
# On one core both share it.
CPU_GEN=${CPU_GEN:-$(( $(nproc) > 1 ? 1 : 0 ))}
if [ -n "${HEADEND_BIN:-}" ]; then
  HEADEND=$HEADEND_BIN
else
  cargo build --release -p headend >&2
  HEADEND=$PWD/target/release/headend
fi
if [ -n "${STORM_LOAD:-}" ] && [ -x "$STORM_LOAD" ]; then
  LOAD=$STORM_LOAD
else
  cargo build --release -p headend-dhcp --example storm_load >&2
  LOAD=$PWD/target/release/examples/storm_load
fi
work=$(mktemp -d /tmp/headend-storm.XXXXXX)
chmod 755 "$work"
tag=$$
ns_s=hstorm-s$tag; ns_g=hstorm-g$tag
pids=()
stop_servers() {
  local p="" i
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # kea-dhcp-ddns drains its queue of name changes before it exits on
  # SIGTERM (minutes after a storm): 5 s, then SIGKILL, by PID.
  for i in $(seq 1 50); do
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && break; done
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_servers
  ip netns del "$ns_s" 2>/dev/null || true
  ip netns del "$ns_g" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns_s"; ip netns add "$ns_g"
ip -n "$ns_s" link set lo up; ip -n "$ns_g" link set lo up
ip link add "vs$tag" netns "$ns_s" type veth peer name "vg$tag" netns "$ns_g"
ip -n "$ns_s" addr add 10.90.0.1/16 dev "vs$tag"; ip -n "$ns_s" link set "vs$tag" up
ip -n "$ns_g" addr add 10.90.0.2/16 dev "vg$tag"; ip -n "$ns_g" link set "vg$tag" up
in_s() { exec ip netns exec "$ns_s" taskset -c "$CPU_SERVER" "$@"; }

zones() {
  printf '$ORIGIN modems.storm.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 10.90.0.1\n' > "$1/fwd.zone"
  printf '$ORIGIN 10.in-addr.arpa.\n$TTL 300\n@ SOA ns1.modems.storm. hostmaster.modems.storm. 1 3600 600 86400 60\n@ NS ns1.modems.storm.\n' > "$1/rev.zone"
}

# user+system CPU ticks of PIDS (with reaped children: tftpd-hpa forks per transfer).
ticks() {
  local sum=0 p f
  for p in "$@"; do
    f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
    # after "pid (comm)": field 14..17 of stat are 12..15 here.
    set -- $f
    sum=$((sum + ${12} + ${13} + ${14} + ${15}))
  done
  echo "$sum"
}

wait_dns() {
  for _ in $(seq 1 150); do
    ip netns exec "$ns_g" dig @10.90.0.1 +short +tries=1 +time=1 modems.storm SOA 2>/dev/null | grep -q hostmaster && return 0
    sleep 0.2
  done
  echo "storm: the DNS server never answered" >&2
  tail -n 20 "$work"/*/*.log "$work"/*/log >&2 2>/dev/null || true
  return 1
}

start_headend() {
  local d=$work/headend
  mkdir -p "$d/root"
  zones "$d"
  printf '# modem {{ mac }}\nnetwork_access=1\n' > "$d/modem.cfg.j2"
  # All modems' TFTP requests come from the generator's one address: the
  # per-client limits (meant for one device) are lifted, as for tftpd-hpa.
  cat > "$d/headend.toml" <<EOC
[general]
state_dir = "$d/state"
[log]
level = "warn"
[dns]
listen = ["10.90.0.1:53"]
[[dns.zone]]
origin = "modems.storm"
file = "$d/fwd.zone"
[[dns.zone]]
origin = "10.in-addr.arpa"
file = "$d/rev.zone"
[dhcp]
interfaces = ["vs$tag"]
server_id = "10.90.0.1"
log_leases = false
stats_interval_secs = 0
[dhcp.ddns]
forward_zone = "modems.storm."
reverse_zones = ["10.in-addr.arpa."]
names = "template"
reconcile_secs = 3600
[[dhcp.subnet]]
name = "cable"
subnet = "10.88.0.0/13"
pools = ["10.88.0.1-10.89.255.254", "10.90.1.0-10.91.255.250"]
[tftp]
listen = ["10.90.0.1:69"]
root = "$d/root"
max_transfers = 4096
max_transfers_per_client = 4096
client_rate = 1000000.0
client_burst = 1000000
[[tftp.template]]
pattern = "modems/{mac}.cfg"
file = "$d/modem.cfg.j2"
EOC
  in_s "$HEADEND" serve --config "$d/headend.toml" > "$d/headend.log" 2>&1 &
  pids+=($!)
  wait_dns
}

start_anchor() {
  local d=$work/anchor key
  mkdir -p "$d/root/modems" "$d/knot" "$d/kea"
  zones "$d"
  key=$(head -c 32 /dev/urandom | base64)
  # tftpd-hpa serves files rendered beforehand (what the template gives).
  python3 - "$d/root/modems" "$N" <<'EOP'
import sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    mac = bytes([0x02, 0xDD]) + i.to_bytes(4, "big")
    with open(f"{root}/{mac.hex()}.cfg", "w") as f:
        f.write(f"# modem {mac.hex(':')}\nnetwork_access=1\n")
EOP
  cat > "$d/knot.conf" <<EOC
server:
    rundir: "$d/knot"
    listen: 10.90.0.1@53
key:
  - id: storm-key
    algorithm: hmac-sha256
    secret: $key
acl:
  - id: d2
    key: storm-key
    action: update
database:
    storage: "$d/knot"
template:
  - id: default
    storage: "$d"
    zonefile-sync: -1
    journal-content: changes
    semantic-checks: off
zone:
  - domain: modems.storm.
    file: "$d/fwd.zone"
    acl: d2
  - domain: 10.in-addr.arpa.
    file: "$d/rev.zone"
    acl: d2
log:
  - target: stderr
    any: warning
EOC
  cat > "$d/d2.json" <<EOC
{"DhcpDdns": {
  "ip-address": "127.0.0.1", "port": 53001, "dns-server-timeout": 1000,
  "control-socket": {"socket-type": "unix", "socket-name": "$d/kea/d2.sock"},
  "tsig-keys": [{"name": "storm-key", "algorithm": "HMAC-SHA256", "secret": "$key"}],
  "forward-ddns": {"ddns-domains": [{"name": "modems.storm.", "key-name": "storm-key",
    "dns-servers": [{"ip-address": "10.90.0.1", "port": 53}]}]},
  "reverse-ddns": {"ddns-domains": [{"name": "10.in-addr.arpa.", "key-name": "storm-key",
    "dns-servers": [{"ip-address": "10.90.0.1", "port": 53}]}]},
  "loggers": [{"name": "kea-dhcp-ddns", "severity": "WARN",
    "output_options": [{"output": "$d/d2.log"}]}]
}}
EOC
  cat > "$d/kea4.json" <<EOC
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["vs$tag/10.90.0.1"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "name": "$d/kea/leases4.csv", "lfc-interval": 0},
  "valid-lifetime": 3600,
  "dhcp-ddns": {"enable-updates": true, "server-ip": "127.0.0.1", "server-port": 53001,
    "max-queue-size": 200000},
  "ddns-send-updates": true,
  "ddns-qualifying-suffix": "modems.storm.",
  "ddns-override-client-update": true,
  "ddns-replace-client-name": "never",
  "subnet4": [{"id": 1, "subnet": "10.88.0.0/13", "pools": [{"pool": "10.88.0.1-10.89.255.254"}, {"pool": "10.90.1.0-10.91.255.250"}]}],
  "loggers": [{"name": "kea-dhcp4", "severity": "WARN",
    "output_options": [{"output": "$d/kea4.log"}]}]
}}
EOC
  in_s knotd -c "$d/knot.conf" > "$d/knot.log" 2>&1 &
  pids+=($!)
  wait_dns
  export KEA_PIDFILE_DIR=$d/kea KEA_LOCKFILE_DIR=$d/kea
  in_s kea-dhcp-ddns -c "$d/d2.json" > "$d/d2.out" 2>&1 &
  pids+=($!)
  in_s kea-dhcp4 -c "$d/kea4.json" > "$d/kea4.out" 2>&1 &
  pids+=($!)
  in_s in.tftpd -L -u root -s -a 10.90.0.1:69 "$d/root" > "$d/tftpd.log" 2>&1 &
  pids+=($!)
  # Kea answers once its socket is open: wait for the port.
  for _ in $(seq 1 100); do
    ip netns exec "$ns_s" ss -uln | grep -q '10.90.0.1:67 ' && ip netns exec "$ns_s" ss -uln | grep -q '10.90.0.1:69 ' && return 0
    sleep 0.1
  done
  echo "storm: Kea or tftpd-hpa never listened" >&2
  return 1
}

declare -A rate
echo "storm: N=$N WINDOW=$WINDOW load=$(cut -d' ' -f1-3 /proc/loadavg)"
for s in $SERVERS; do
  "start_$s"
  # What each server pid is, through `ip netns exec` and taskset (exec'd).
  t0=$(ticks "${pids[@]}")
  if ! line=$(ip netns exec "$ns_g" taskset -c "$CPU_GEN" "$LOAD" 10.90.0.2 10.90.0.1 "$N" "$WINDOW" modems.storm. 53 "$LIMIT"); then
    tail -20 "$work/$s"/*.log >&2 || true
    exit 1
  fi
  t1=$(ticks "${pids[@]}")
  hz=$(getconf CLK_TCK)
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
  done_n=$(sed -n 's/.*done=\([0-9]*\).*/\1/p' <<<"$line")
  per_cpu=$(awk -v d="$done_n" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0 ? d / c : 0) }')
  rate[$s]=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$line")
  printf '%-8s %s server_cpu_s=%s modems_per_server_cpu_s=%s\n' "$s" "$line" "$cpu" "$per_cpu"
  stop_servers
done
if [ -n "${rate[headend]:-}" ] && [ -n "${rate[anchor]:-}" ]; then
  awk -v h="${rate[headend]}" -v a="${rate[anchor]}" \
    'BEGIN { printf "ratio headend/anchor modems/s: %.2f\n", (a > 0 ? h / a : 0) }'
fi
