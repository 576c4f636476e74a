#!/usr/bin/env bash
# TFTP benchmark: headend vs tftpd-hpa (in.tftpd), atftpd and dnsmasq's TFTP
# on loopback. Each server is pinned to CPU 1, the client to CPU 0 (taskset);
# runs alternate between servers, row by row, ROUNDS times; the median of each
# cell is printed with the ratio headend / best anchor.
#
# The client is headend's own benchmark client (crates/headend-tftp/examples/
# tftp_bench.rs): one blocking socket for the 64 MiB rows, RFC 7440 windows
# when the server grants them (lock-step otherwise), and for the small-file
# rows 50 transfers in flight on one thread; every byte is compared with the
# original file. The stock clients (tftp, atftp, curl) are too slow to show a
# server's limit (a process per fetch tops out near 110 fetches/s).
#
# Usage: bench/tftp.sh     (ROUNDS=3 SMALL_COUNT=1000 to change; ROWS_MATCH=small
#        runs only the rows whose name matches that regex; BASE_BIN=PATH adds a
#        server "base", another headend build, for before/after figures, with a
#        headend/base column; HEADEND_BIN=PATH runs that binary instead of
#        building one)
# Traffic goes to 127.0.0.1 only; every run is bounded by `timeout`.
# atftpd conflicts with tftpd-hpa as a Debian package, so its .deb is fetched
# with `apt-get download atftpd` and unpacked with `dpkg -x` into a temp folder.
# dnsmasq's TFTP port is fixed at 69: it listens on 127.0.0.1:69.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SMALL_COUNT=${SMALL_COUNT:-1000}
PARALLEL=${PARALLEL:-50}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}

for p in in.tftpd dnsmasq taskset apt-get dpkg timeout; do
  command -v "$p" >/dev/null || { echo "missing $p: apt-get install tftpd-hpa dnsmasq-base util-linux" >&2; exit 1; }
done

if [ -n "${HEADEND_BIN:-}" ]; then
  HEADEND=$HEADEND_BIN
else
  cargo build --release -p headend >&2
  HEADEND=$PWD/target/release/headend
fi
[ -x "$PWD/target/release/examples/tftp_bench" ] && [ -n "${SKIP_BUILD:-}" ] \
  || cargo build --release -p headend-tftp --example tftp_bench >&2
CLIENT=$PWD/target/release/examples/tftp_bench

work=$(mktemp -d /tmp/headend-bench-tftp.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  if [ -n "${CGROOT:-}" ]; then rmdir "$CGROOT"/* "$CGROOT" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- atftpd from its .deb ---
(cd "$work" && apt-get download atftpd >/dev/null 2>&1) || { echo "apt-get download atftpd failed (run apt-get update)" >&2; exit 1; }
dpkg -x "$work"/atftpd_*.deb "$work/atftpd"
ATFTPD=$work/atftpd/usr/sbin/atftpd

# --- content: one 64 MiB file, SMALL files of 2-8 KB ---
root=$work/root
mkdir -p "$root/cfg"
head -c $((64 * 1024 * 1024)) /dev/urandom > "$root/big.bin"
for i in $(seq 0 999); do
  head -c $((2048 + (i * 37) % 6144)) /dev/urandom > "$root/cfg/$(printf %04d "$i").cfg"
done
chmod -R a+rX "$root"

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

# --- servers, all pinned to SERVER_CPU ---
declare -A PORT
PORT[headend]=$(free_port)
cat > "$work/headend.toml" <<EOF
[general]
state_dir = "$work/state"
[log]
level = "warn"
[tftp]
listen = ["127.0.0.1:${PORT[headend]}"]
root = "$root"
max_blksize = 65464
max_windowsize = 64
client_rate = 0.0
max_transfers_per_client = 1024
EOF
declare -A SPID
taskset -c "$SERVER_CPU" "$HEADEND" serve --config "$work/headend.toml" 2> "$work/headend.log" &
pids+=($!); SPID[headend]=$!

SERVERS=(headend)
if [ -n "${BASE_BIN:-}" ]; then
  PORT[base]=$(free_port)
  mkdir -p "$work/base"
  sed -e "s|^state_dir = .*|state_dir = \"$work/base/state\"|" \
      -e "s|127.0.0.1:${PORT[headend]}|127.0.0.1:${PORT[base]}|" "$work/headend.toml" > "$work/base/headend.toml"
  taskset -c "$SERVER_CPU" "$BASE_BIN" serve --config "$work/base/headend.toml" 2> "$work/base.log" &
  pids+=($!); SPID[base]=$!
  SERVERS+=(base)
fi

PORT[tftpd-hpa]=$(free_port)
taskset -c "$SERVER_CPU" in.tftpd -L -u root -s "$root" -a "127.0.0.1:${PORT[tftpd-hpa]}" 2> "$work/tftpd.log" &
pids+=($!); SPID[tftpd-hpa]=$!

PORT[atftpd]=$(free_port)
taskset -c "$SERVER_CPU" "$ATFTPD" --daemon --no-fork --user root.root --port "${PORT[atftpd]}" \
  --bind-address 127.0.0.1 --maxthread 200 --logfile /dev/null "$root" 2> "$work/atftpd.log" &
pids+=($!); SPID[atftpd]=$!

PORT[dnsmasq]=69
taskset -c "$SERVER_CPU" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --enable-tftp \
  --tftp-root="$root" --listen-address=127.0.0.1 --bind-interfaces --user=root \
  --tftp-max=200 --pid-file= --log-facility="$work/dnsmasq.log" 2>> "$work/dnsmasq.log" &
pids+=($!); SPID[dnsmasq]=$!

SERVERS+=(tftpd-hpa atftpd dnsmasq)
ANCHORS=(tftpd-hpa atftpd dnsmasq)
REVERSED=()
for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do REVERSED+=("${SERVERS[$i]}"); done
sleep 1
for s in "${SERVERS[@]}"; do
  if ! timeout 20 taskset -c "$CLIENT_CPU" "$CLIENT" small "127.0.0.1:${PORT[$s]}" cfg/ "$root/cfg" 10 1 512 >/dev/null; then
    echo "$s did not come up; logs in $work" >&2
    cat "$work"/*.log >&2 || true
    exit 1
  fi
done

# --- rows: name, kind, blksize, windowsize ---
ROWS=(
  "64MiB 512|big|512|1"
  "64MiB 1468|big|1468|1"
  "64MiB 8192|big|8192|1"
  "64MiB 1468 x window 16|big|1468|16"
  "64MiB 1468 x window 64|big|1468|64"
  "64MiB 8192 x window 8|big|8192|8"
  "64MiB 8192 x window 16|big|8192|16"
  "small files/s blk 512|small|512|1"
  "small files/s blk 1468|small|1468|1"
)
if [ -n "${ROWS_MATCH:-}" ]; then
  kept=()
  for row in "${ROWS[@]}"; do [[ "${row%%|*}" =~ $ROWS_MATCH ]] && kept+=("$row"); done
  ROWS=("${kept[@]}")
fi

# Server CPU time in microseconds. Each server runs in its own cgroup (v1
# cpuacct or v2), so the processes in.tftpd forks per transfer are counted;
# without cgroups, /proc utime+stime of the server and its reaped children.
HZ=$(getconf CLK_TCK)
CGROOT=""
if [ -d /sys/fs/cgroup/cpuacct ] && mkdir -p "/sys/fs/cgroup/cpuacct/tftpbench.$$" 2>/dev/null; then
  CGROOT=/sys/fs/cgroup/cpuacct/tftpbench.$$
elif [ -f /sys/fs/cgroup/cgroup.controllers ] && mkdir -p "/sys/fs/cgroup/tftpbench.$$" 2>/dev/null; then
  CGROOT=/sys/fs/cgroup/tftpbench.$$
fi
cg_attach() { # server name
  [ -n "$CGROOT" ] || return 0
  mkdir -p "$CGROOT/$1" && echo "${SPID[$1]}" > "$CGROOT/$1/cgroup.procs"
}
cpu_us() { # server
  if [ -n "$CGROOT" ] && [ -f "$CGROOT/$1/cpuacct.usage" ]; then
    echo $(($(cat "$CGROOT/$1/cpuacct.usage") / 1000))
  elif [ -n "$CGROOT" ] && [ -f "$CGROOT/$1/cpu.stat" ]; then
    awk '/^usage_usec/ { print $2 }' "$CGROOT/$1/cpu.stat"
  else
    awk -v hz="$HZ" '{ printf "%d\n", ($14 + $15 + $16 + $17) * 1000000 / hz }' "/proc/${SPID[$1]}/stat"
  fi
}
for s in "${SERVERS[@]}"; do cg_attach "$s"; done

declare -A RES EFF
run_one() { # server kind blksize window -> prints "value/p99/efficiency" or "fail"
  local s=$1 kind=$2 blk=$3 win=$4 out t0 t1 eff
  t0=$(cpu_us "$s")
  if [ "$kind" = big ]; then
    out=$(timeout 120 taskset -c "$CLIENT_CPU" "$CLIENT" big "127.0.0.1:${PORT[$s]}" big.bin "$root/big.bin" "$blk" "$win" || true)
  else
    out=$(timeout 120 taskset -c "$CLIENT_CPU" "$CLIENT" small "127.0.0.1:${PORT[$s]}" cfg/ "$root/cfg" "$SMALL_COUNT" "$PARALLEL" "$blk" || true)
  fi
  sleep 0.2  # let in.tftpd's per-transfer processes finish
  t1=$(cpu_us "$s")
  local us=$((t1 - t0)); [ "$us" -lt 1 ] && us=1
  if [ "$kind" = big ]; then
    local mbps
    mbps=$(sed -n 's/.*mbps=\([0-9.]*\).*/\1/p' <<< "$out")
    [ -z "$mbps" ] && { echo fail; return; }
    eff=$(awk -v us="$us" 'BEGIN { printf "%.0f", 67.108864 / (us / 1e6) }')
    echo "$mbps/-/$eff"
  else
    local rate p99
    rate=$(sed -n 's/.*files_per_sec=\([0-9.]*\).*/\1/p' <<< "$out")
    p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<< "$out")
    [ -z "$rate" ] && { echo fail; return; }
    eff=$(awk -v us="$us" -v n="$SMALL_COUNT" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
    local ccpu
    ccpu=$(sed -n 's/.*client_files_per_cpu_s=\([0-9]*\).*/\1/p' <<< "$out")
    echo "$(date +%s) $s $name client_files_per_cpu_s=${ccpu:-?}" >> "$work/client-cpu"
    echo "$rate/$p99/$eff"
  fi
}

for round in $(seq 1 "$ROUNDS"); do
  for row in "${ROWS[@]}"; do
    IFS='|' read -r name kind blk win <<< "$row"
    # alternate the order of servers between rounds
    order=("${SERVERS[@]}")
    if [ $((round % 2)) -eq 0 ]; then order=("${REVERSED[@]}"); fi
    for s in "${order[@]}"; do
      v=$(run_one "$s" "$kind" "$blk" "$win")
      RES["$name|$s"]+="$v "
      EFF["$name|$s"]+="$(cut -d/ -f3 <<< "$v") "
      echo "round $round  $name  $s: $v" >&2
    done
  done
done

median() { # values... (numbers, or fail) -> median of the numbers (the mean of
  # the middle two for an even count), or fail
  local nums
  nums=$(printf '%s\n' "$@" | grep -v fail | sort -g || true)
  local n
  n=$(grep -c . <<< "$nums" || true)
  if [ "$n" -eq 0 ]; then echo fail; return; fi
  awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}' <<< "$nums"
}

header() {
  local h="| row |" r="|---|"
  for s in "${SERVERS[@]}"; do h+=" $s |"; r+="---:|"; done
  h+=" headend / best anchor |"; r+="---:|"
  if [ -n "${BASE_BIN:-}" ]; then h+=" headend / base |"; r+="---:|"; fi
  printf '%s\n%s\n' "$h" "$r"
}
ratio_of() { # a b -> a/b or n/a
  if [ "$1" != fail ] && [ -n "$1" ] && [ -n "$2" ] && [ "$2" != fail ] && [ "$2" != 0 ]; then
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'
  else
    echo n/a
  fi
}
is_anchor() { [[ " ${ANCHORS[*]} " == *" $1 "* ]]; }
echo
header
for row in "${ROWS[@]}"; do
  IFS='|' read -r name kind blk win <<< "$row"
  line="| $name |"
  best=0
  declare -A MED=()
  for s in "${SERVERS[@]}"; do
    vals=()
    p99s=()
    for v in ${RES["$name|$s"]}; do
      vals+=("${v%%/*}")
      [ "$kind" = small ] && [ "$v" != fail ] && p99s+=("$(cut -d/ -f2 <<< "$v")")
    done
    m=$(median "${vals[@]}")
    MED[$s]=$m
    cell=$m
    # Every round's own figure beside the median: files/s and p99 of one
    # round stay together.
    if [ "$kind" = small ] && [ "$m" != fail ]; then
      cell="$m (p99 $(median "${p99s[@]}") ms; rounds: $(sed 's#/\([0-9.]*\)/[0-9]*#@p99 \1#g; s/ *$//' <<< "${RES["$name|$s"]}"))"
    elif [ "$m" != fail ]; then
      cell="$m (rounds: $(sed 's#/[^ ]*##g; s/ *$//' <<< "${RES["$name|$s"]}"))"
    fi
    line+=" $cell |"
    if is_anchor "$s" && [ "$m" != fail ]; then
      best=$(awk -v a="$best" -v b="$m" 'BEGIN { print (b > a) ? b : a }')
    fi
  done
  line+=" $(ratio_of "${MED[headend]}" "$best") |"
  [ -n "${BASE_BIN:-}" ] && line+=" $(ratio_of "${MED[headend]}" "${MED[base]}") |"
  echo "$line"
done

printf '\nServer CPU efficiency (MB per server CPU-second, or files per server CPU-second, from the\nserver'"'"'s cgroup CPU usage over each run; higher is better):\n\n'
header
for row in "${ROWS[@]}"; do
  IFS='|' read -r name kind blk win <<< "$row"
  line="| $name |"
  best=0
  hm=fail
  bm=fail
  for s in "${SERVERS[@]}"; do
    m=$(median ${EFF["$name|$s"]})
    line+=" $m |"
    [ "$s" = headend ] && hm=$m
    [ "$s" = base ] && bm=$m
    if is_anchor "$s" && [ "$m" != fail ] && [ -n "$m" ]; then
      best=$(awk -v a="$best" -v b="$m" 'BEGIN { print (b > a) ? b : a }')
    fi
  done
  line+=" $(ratio_of "$hm" "$best") |"
  [ -n "${BASE_BIN:-}" ] && line+=" $(ratio_of "$hm" "$bm") |"
  echo "$line"
done
if [ -s "$work/client-cpu" ]; then
  # The client must be able to outrun the servers: files per client
  # CPU-second (tftp_bench, all its threads) against the best server's files/s.
  printf '\nClient capacity (small rows): median files per client CPU-second = %s\n' \
    "$(median $(sed -n 's/.*client_files_per_cpu_s=\([0-9]*\).*/\1/p' "$work/client-cpu"))"
fi
echo
echo "MB/s for 64 MiB rows (10^6 bytes/s), files/s for small rows; median of $ROUNDS alternated rounds;"
echo "servers on CPU $SERVER_CPU, client (tftp_bench) on CPU $CLIENT_CPU; 'fail' = error, mismatch or timeout."
