#!/usr/bin/env bash
# The whole flow of one use case in a few seconds, in network namespaces:
#
#   sudo scripts/lab.sh cable   # a cable modem behind a CMTS-like relay
#   sudo scripts/lab.sh pxe     # a PXE client on the lab network
#
# cable: namespace "server" (eth1 = 192.0.2.10 and 192.0.2.20, the addresses
#   configs/isp-cable.toml names) <-> "cmts" (dhcrelay -a, giaddr 10.1.0.1,
#   option 82 circuit-id = its cable interface) <-> "modem" (udhcpc with
#   vendor class docsis3.0), which then fetches its config file by TFTP.
# pxe: "server" (eth0 = 10.20.0.1, as configs/pxe-lab.toml) <-> "client"
#   (udhcpc with option 93 = 0, a BIOS PXE ROM), which fetches its boot
#   loader by TFTP, then asks again as iPXE (user class "iPXE", option 77)
#   and gets the boot script's URL.
#
# headend runs the shipped config unchanged except general.state_dir, which
# points into a temporary folder. The script prints the lease, the fetched
# file and headend's log lines, removes the namespaces and stops every process
# it started (by PID) on exit, and gives up after LAB_TIMEOUT seconds (30).
# Needs root, iproute2, udhcpc, tftp (tftp-hpa) and, for cable, dhcrelay
# (isc-dhcp-relay). HEADEND_BIN picks the binary (default: target/release or
# target/debug, built with cargo if neither exists).
set -euo pipefail

usage() {
  echo "usage: $0 cable|pxe" >&2
  exit 2
}
[ $# -eq 1 ] || usage
case "$1" in cable | pxe) lab=$1 ;; *) usage ;; esac
if [ "$(id -u)" -ne 0 ]; then
  echo "lab.sh: needs root (it creates network namespaces): sudo $0 $lab" >&2
  exit 1
fi
for tool in ip udhcpc tftp timeout; do
  command -v "$tool" >/dev/null || {
    echo "lab.sh: $tool is missing (Debian: apt-get install iproute2 udhcpc tftp-hpa coreutils)" >&2
    exit 1
  }
done
if [ "$lab" = cable ] && ! command -v dhcrelay >/dev/null; then
  echo "lab.sh: dhcrelay is missing (Debian: apt-get install isc-dhcp-relay)" >&2
  exit 1
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${HEADEND_BIN:-}
if [ -z "$bin" ]; then
  for b in "$repo/target/release/headend" "$repo/target/debug/headend"; do
    if [ -x "$b" ]; then bin=$b && break; fi
  done
fi
if [ -z "$bin" ]; then
  (cd "$repo" && cargo build -p headend)
  bin=$repo/target/debug/headend
fi
limit=${LAB_TIMEOUT:-30}
deadline=$((SECONDS + limit))

# Everything this run creates carries its PID: runs side by side do not clash.
tag=hl$$
work=$(mktemp -d "${TMPDIR:-/tmp}/headend-lab.XXXXXX")
namespaces=()
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  for ns in "${namespaces[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "lab.sh: $*" >&2
  if [ -s "$work/headend.log" ]; then
    echo "--- headend log" >&2
    cat "$work/headend.log" >&2
  fi
  exit 1
}
left() {
  local n=$((deadline - SECONDS))
  if [ "$n" -gt 0 ]; then echo "$n"; else echo 1; fi
}
netns() {
  local ns=$tag-$1
  ip netns add "$ns"
  namespaces+=("$ns")
  ip -n "$ns" link set lo up
}
# link A IFA B IFB [MAC of IFB]: a veth pair between namespaces A and B.
link() {
  local a=$tag-$1 ia=$2 b=$tag-$3 ib=$4 mac=${5:-}
  ip link add "$tag-x" type veth peer name "$tag-y"
  ip link set "$tag-x" netns "$a"
  ip link set "$tag-y" netns "$b"
  ip -n "$a" link set "$tag-x" name "$ia"
  ip -n "$b" link set "$tag-y" name "$ib"
  if [ -n "$mac" ]; then ip -n "$b" link set "$ib" address "$mac"; fi
  ip -n "$a" link set "$ia" up
  ip -n "$b" link set "$ib" up
}
in_ns() {
  local ns=$tag-$1
  shift
  ip netns exec "$ns" "$@"
}
section() { printf '\n== %s\n' "$*"; }

# A udhcpc hook that records what the server gave and configures the address
# and default route, so the TFTP fetch that follows goes out from it.
cat >"$work/hook.sh" <<EOF
#!/bin/sh
case "\$1" in
  bound|renew)
    echo "\$1 ip=\$ip mask=\$mask router=\$router serverid=\$serverid siaddr=\$siaddr boot_file=\$boot_file lease=\$lease" >>"$work/client.out"
    ip addr replace "\$ip/\$mask" dev "\$interface"
    [ -n "\$router" ] && ip route replace default via "\${router%% *}" dev "\$interface"
    ;;
esac
exit 0
EOF
chmod 755 "$work/hook.sh"

echo "lab $lab: namespaces $tag-*, work folder $work"
if [ "$lab" = cable ]; then
  config=$repo/configs/isp-cable.toml
  netns server
  netns cmts
  netns modem
  link server eth1 cmts upstream
  link cmts cable0 modem eth0 00:10:95:de:ad:01
  ip -n "$tag-server" addr add 192.0.2.10/24 dev eth1
  ip -n "$tag-server" addr add 192.0.2.20/24 dev eth1
  ip -n "$tag-server" route add 10.1.0.0/16 via 192.0.2.1
  ip -n "$tag-cmts" addr add 192.0.2.1/24 dev upstream
  ip -n "$tag-cmts" addr add 10.1.0.1/16 dev cable0
  in_ns cmts sysctl -q -w net.ipv4.ip_forward=1
  client=modem
  client_args=(-V docsis3.0)
else
  config=$repo/configs/pxe-lab.toml
  netns server
  netns client
  link server eth0 client eth0 52:54:00:ab:cd:01
  ip -n "$tag-server" addr add 10.20.0.1/24 dev eth0
  client=client
  # Option 93 (client system architecture, RFC 4578) = 0: x86 BIOS.
  client_args=(-V PXEClient:Arch:00000:UNDI:002001 -x 0x5d:0000)
fi

# The shipped config with its state directory moved into the work folder and
# its TFTP root (relative to configs/) made absolute.
mkdir -p "$work/state"
cfg=$work/headend.toml
sed -e "s|^state_dir = .*|state_dir = \"$work/state\"|" \
  -e "s|^root = \"\\.\\./|root = \"$repo/|" "$config" >"$cfg"
section "config: $config (state_dir -> $work/state)"
ip netns exec "$tag-server" "$bin" check --config "$cfg" || { fail "headend check failed"; }

RUST_LOG=${RUST_LOG:-info} NO_COLOR=1 ip netns exec "$tag-server" \
  "$bin" serve --config "$cfg" >"$work/headend.log" 2>&1 &
pids+=($!)
until grep -q "headend ready" "$work/headend.log"; do
  kill -0 "${pids[0]}" 2>/dev/null || { fail "headend exited"; }
  [ "$SECONDS" -lt "$deadline" ] || fail "gave up after ${limit} s (LAB_TIMEOUT)"
  sleep 0.1
done

if [ "$lab" = cable ]; then
  # The CMTS: relays the modem's broadcasts to 192.0.2.10 with giaddr
  # 10.1.0.1 and option 82 (circuit-id = cable0).
  in_ns cmts dhcrelay -4 -d -a -id cable0 -iu upstream 192.0.2.10 >"$work/relay.log" 2>&1 &
  pids+=($!)
fi

section "DHCP: udhcpc ${client_args[*]} in namespace $client"
# udhcpc retries (1 s apart) while the relay starts up.
timeout "$(left)" ip netns exec "$tag-$client" udhcpc -i eth0 -q -f -n -t 8 -T 1 \
  "${client_args[@]}" -s "$work/hook.sh" >"$work/udhcpc.log" 2>&1 ||
  { cat "$work/udhcpc.log" >&2; fail "no lease"; }
bound=$(grep -m1 '^bound' "$work/client.out") || { fail "no lease"; }
echo "$bound"
ip_addr=$(sed -n 's/.* ip=\([^ ]*\).*/\1/p' <<<"$bound")
boot=$(sed -n 's/.* boot_file=\([^ ]*\).*/\1/p' <<<"$bound")
siaddr=$(sed -n 's/.* siaddr=\([^ ]*\).*/\1/p' <<<"$bound")
[ -n "$boot" ] || { fail "the lease names no boot file"; }

section "lease: headend leases"
"$bin" leases --config "$cfg" | grep -E "^(address|$ip_addr) " || { fail "lease $ip_addr not listed"; }

section "TFTP: tftp -m binary $siaddr -c get $boot"
(cd "$work" && timeout "$(left)" ip netns exec "$tag-$client" tftp -m binary "$siaddr" -c get "$boot" fetched) ||
  { fail "tftp get $boot failed"; }
[ -s "$work/fetched" ] || { fail "tftp fetched nothing"; }
echo "fetched $boot: $(stat -c %s "$work/fetched") bytes"
if [ "$lab" = cable ]; then
  "$bin" docsis decode "$work/fetched" | head -n 20 || true
else
  head -c 64 "$work/fetched" | tr -c '[:print:]\n' '.'
  echo
  section "iPXE: udhcpc -x 0x4d:iPXE (user class) in namespace $client"
  : >"$work/client.out"
  timeout "$(left)" ip netns exec "$tag-$client" udhcpc -i eth0 -q -f -n -t 8 -T 1 \
    -x 0x4d:69505845 -s "$work/hook.sh" >"$work/udhcpc.log" 2>&1 ||
    { cat "$work/udhcpc.log" >&2; fail "no lease for iPXE"; }
  grep -m1 '^bound' "$work/client.out"
fi

# The lease and transfer lines are logged once committed / completed.
until grep -q "TFTP transfer complete" "$work/headend.log"; do
  [ "$SECONDS" -lt "$deadline" ] || fail "gave up after ${limit} s (LAB_TIMEOUT)"
  sleep 0.1
done
section "headend log: lease and TFTP lines"
grep -E "headend::lease|TFTP transfer (complete|refused)" "$work/headend.log"
section "lab $lab: OK"
