#!/usr/bin/env bash
# The reboot storm (issue 19), headend only for now: N cable modems return at
# once; each does DORA through a relay with option 82, fetches its own config
# by TFTP (a template rendered per modem) and must be resolvable by name
# (DDNS, cm-<mac>.modems.storm.). The generator (bench/storm.py, one process)
# runs in its own network namespace with at most WINDOW modems in flight.
# Prints time until all are provisioned, modems/s, p50/p99 per-modem latency
# and failures. Needs root (network namespaces).
#
# Usage: bench/storm.sh   (N=5000 WINDOW=256 HEADEND_BIN=PATH to skip the build)
# Traffic stays inside the two namespaces the script creates (and deletes).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}
WINDOW=${WINDOW:-256}
if [ -n "${HEADEND_BIN:-}" ]; then
  HEADEND=$HEADEND_BIN
else
  cargo build --release -p headend >&2
  HEADEND=$PWD/target/release/headend
fi
work=$(mktemp -d /tmp/headend-storm.XXXXXX)
tag=$$
ns_s=hstorm-s$tag; ns_g=hstorm-g$tag
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
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

mkdir -p "$work/root/modems"
printf '$ORIGIN modems.storm.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 10.90.0.1\n' > "$work/fwd.zone"
printf '$ORIGIN 90.10.in-addr.arpa.\n$TTL 300\n@ SOA ns1.modems.storm. hostmaster.modems.storm. 1 3600 600 86400 60\n@ NS ns1.modems.storm.\n' > "$work/rev.zone"
printf '# modem {{ mac }}\nnetwork_access=1\n' > "$work/modem.cfg.j2"
cat > "$work/headend.toml" <<EOC
[general]
state_dir = "$work/state"
[log]
level = "warn"
[dns]
listen = ["10.90.0.1:53"]
[[dns.zone]]
origin = "modems.storm"
file = "$work/fwd.zone"
[[dns.zone]]
origin = "90.10.in-addr.arpa"
file = "$work/rev.zone"
[dhcp]
interfaces = ["vs$tag"]
server_id = "10.90.0.1"
log_leases = false
stats_interval_secs = 0
[dhcp.ddns]
forward_zone = "modems.storm."
reverse_zones = ["90.10.in-addr.arpa."]
names = "template"
reconcile_secs = 3600
[[dhcp.subnet]]
name = "cable"
subnet = "10.90.0.0/16"
pools = ["10.90.1.0-10.90.255.250"]
[tftp]
listen = ["10.90.0.1:69"]
root = "$work/root"
[[tftp.template]]
pattern = "modems/{mac}.cfg"
file = "$work/modem.cfg.j2"
EOC
ip netns exec "$ns_s" "$HEADEND" serve --config "$work/headend.toml" > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  ip netns exec "$ns_g" dig @10.90.0.1 +short +tries=1 +time=1 modems.storm SOA 2>/dev/null | grep -q hostmaster && break
  sleep 0.2
done
echo "storm: N=$N WINDOW=$WINDOW"
ip netns exec "$ns_g" python3 bench/storm.py 10.90.0.2 10.90.0.1 "$N" "$WINDOW" modems.storm. 53 120 \
  || { tail -20 "$work/log"; exit 1; }
