#!/usr/bin/env bash
# DOCSIS benchmark.
#  1. Compiles per second on one core (taskset CPU 0) of a realistic per-modem
#     config (crates/headend-docsis/examples/docsis_bench.rs: two service
#     flows, five classifiers, ten SNMP objects, BPI, a CVC; 24 top-level and
#     about 70 nested TLVs), cold (every compile parses, encodes and computes
#     both MICs) and cached (a lookup by rendered text, as the TFTP cache does).
#  2. TFTP fetches per second of per-modem compiled files for MODEMS distinct
#     modems (every fetch a cache miss: render + compile + transfer) from
#     headend's `format = "docsis"` template, against tftpd-hpa serving the
#     same MODEMS files pre-compiled on disk. Servers pinned to CPU 1, the
#     client (tftp_bench, 50 transfers in flight, every byte compared with the
#     reference file) to CPU 0; ROUNDS rounds alternate the two servers, and
#     headend's cache is emptied (SIGHUP) before each of its rounds. Each
#     row gives files per server-CPU-second beside files/s (tftpd-hpa's
#     forked per-transfer processes counted).
#
# Usage: bench/docsis.sh     (MODEMS=10000 SPEED_N=200000 ROUNDS=3;
#        HEADEND_BIN=PATH runs that binary instead of building one)
# Traffic goes to 127.0.0.1 only; every run is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEMS=${MODEMS:-10000}
SPEED_N=${SPEED_N:-200000}
ROUNDS=${ROUNDS:-3}
PARALLEL=${PARALLEL:-50}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}

for p in in.tftpd taskset timeout; do
  command -v "$p" >/dev/null || { echo "missing $p: apt-get install tftpd-hpa util-linux" >&2; exit 1; }
done
if [ -n "${HEADEND_BIN:-}" ]; then
  HEADEND=$HEADEND_BIN
else
  cargo build --release -p headend >&2
  HEADEND=$PWD/target/release/headend
fi
[ -x target/release/examples/docsis_bench ] && [ -n "${SKIP_BUILD:-}" ] \
  || cargo build --release -p headend-docsis --example docsis_bench >&2
[ -x target/release/examples/tftp_bench ] && [ -n "${SKIP_BUILD:-}" ] \
  || cargo build --release -p headend-tftp --example tftp_bench >&2
BENCH=$PWD/target/release/examples/docsis_bench
CLIENT=$PWD/target/release/examples/tftp_bench

work=$(mktemp -d /tmp/headend-bench-docsis.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== compiles per second, one core (CPU $CLIENT_CPU), $SPEED_N compiles"
timeout 600 taskset -c "$CLIENT_CPU" "$BENCH" speed "$SPEED_N"

# The template headend renders is the bench config itself; docsis_bench
# writes the same files pre-compiled for tftpd-hpa and as the reference.
mkdir -p "$work/root" "$work/static/modems" "$work/ref"
sed -n '/^const CONFIG: &str = r#"/,/^"#;/p' crates/headend-docsis/examples/docsis_bench.rs \
  | sed -e '1s/^const CONFIG: &str = r#"//' -e '$d' > "$work/gold.docsis.j2"
printf 'bench-cmts-secret\n' > "$work/secret"
chmod 600 "$work/secret"
timeout 600 "$BENCH" render-dir "$work/gold.docsis.j2" "$work/secret" "$work/ref" "$MODEMS"
cp "$work"/ref/*.cm "$work/static/modems/"
chmod -R a+rX "$work/static"

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}
hport=$(free_port)
cat > "$work/headend.toml" <<EOF
[general]
state_dir = "$work/state"
[log]
level = "warn"
[tftp]
listen = ["127.0.0.1:$hport"]
root = "$work/root"
client_rate = 0.0
max_transfers_per_client = 1024
[[tftp.template]]
pattern = "modems/{mac}.cm"
file = "$work/gold.docsis.j2"
format = "docsis"
shared_secret_file = "$work/secret"
EOF
taskset -c "$SERVER_CPU" "$HEADEND" serve --config "$work/headend.toml" 2> "$work/headend.log" &
hpid=$!; pids+=($hpid)
tport=$(free_port)
taskset -c "$SERVER_CPU" in.tftpd -L -u root -s "$work/static" -a "127.0.0.1:$tport" 2> "$work/tftpd.log" &
tpid=$!; pids+=($tpid)
for _ in $(seq 100); do grep -q "headend ready" "$work/headend.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.3

# The server's CPU ticks, with the per-transfer processes in.tftpd forked
# and reaped (cutime, cstime).
HZ=$(getconf CLK_TCK)
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13 + $14 + $15}'; }
fetch() { # port server-pid -> "files_per_sec files_per_server_cpu_s server_busy_percent"
  local t0 t1 w0 w1 rate
  t0=$(ticks "$2"); w0=$(date +%s.%N)
  rate=$(timeout 600 taskset -c "$CLIENT_CPU" "$CLIENT" small "127.0.0.1:$1" modems/ "$work/ref" "$MODEMS" "$PARALLEL" 512 \
    | sed -n 's/.*files_per_sec=\([0-9]*\).*/\1/p')
  w1=$(date +%s.%N)
  sleep 0.2  # let in.tftpd reap its last transfers
  t1=$(ticks "$2")
  [ -n "$rate" ] || return 0
  awk -v r="$rate" -v n="$MODEMS" -v t=$((t1 - t0)) -v hz="$HZ" -v a="$w0" -v b="$w1" \
    'BEGIN {c = t / hz; printf "%s %.0f %.0f\n", r, (c > 0 ? n / c : 0), (b > a ? 100 * c / (b - a) : 0)}'
}
H=(); T=(); HC=(); TC=()
for r in $(seq "$ROUNDS"); do
  kill -HUP "$hpid"; sleep 0.3   # empties the compiled-file cache
  read -r h hc hb <<<"$(fetch "$hport" "$hpid")"
  read -r t tc tb <<<"$(fetch "$tport" "$tpid")"
  [ -n "$h" ] && [ -n "$t" ] || { echo "a fetch run failed; logs:" >&2; cat "$work/headend.log" "$work/tftpd.log" >&2; exit 1; }
  H+=("$h"); T+=("$t"); HC+=("$hc"); TC+=("$tc")
  echo "round $r: headend (compile per fetch) $h files/s, $hc per server-CPU-s (server $hb % of a core);" \
    "tftpd-hpa (static) $t files/s, $tc per server-CPU-s (server $tb % of a core)"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mh=$(median "${H[@]}"); mt=$(median "${T[@]}"); mhc=$(median "${HC[@]}"); mtc=$(median "${TC[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
echo "== TFTP, $MODEMS distinct modems, median of $ROUNDS: headend $mh files/s, tftpd-hpa $mt files/s, ratio $(ratio "$mh" "$mt");" \
  "per server-CPU-s headend $mhc, tftpd-hpa $mtc, ratio $(ratio "$mhc" "$mtc")"
if grep -E "panicked| ERROR " "$work/headend.log"; then echo "headend logged errors" >&2; exit 1; fi
