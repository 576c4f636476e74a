#!/usr/bin/env bash
# DNS benchmark: headend vs Knot vs NSD serving the same ~2,000-record zone on
# loopback. Each server is pinned to CPU 1 (taskset), dnsperf to CPU 0; runs
# alternate between servers. Prints QPS, average latency, lost queries and
# queries per server-CPU-second (utime+stime of all the server's threads from
# /proc/PID/stat over the run), and the ratio headend/Knot.
#
# Usage: bench/dns.sh            (DURATION=15 ROUNDS=1 PROTOS="udp tcp" to change;
#        QMIX=nxflood sends only distinct random non-existent names, and
#        QMIX=wildflood distinct random names under a wildcard (*.dyn);
#        DNSSEC=1 signs the zone in headend and Knot (NSD skipped) and sends DO=1;
#        LATENCY_QPS=100000 adds p50/p99 at that offered rate; MULTICORE=1 adds
#        a run with two workers and an unpinned load generator; BASE_BIN=PATH
#        adds a server "base", another headend build, for before/after figures;
#        HEADEND_BIN=PATH runs that binary instead of building one;
#        RRL=RATE turns on response rate limiting in headend and base at RATE
#        responses per second per prefix: all queries come from 127.0.0.1, so a
#        RATE above the load measures what the limiter costs, without limiting;
#        Knot and NSD keep theirs off, so use it with SERVERS="headend");
#        SATURATE=1 adds the saturation rows: the servers run in a network
#        namespace of their own, a generator floods them from a second
#        namespace over a veth pair (dns_load, batched sendmmsg/recvmmsg
#        with 2,048 queries in flight; SAT_GEN=kxdpgun for AF_XDP at
#        SATURATE_QPS, default 1,500,000/s), and a bare recvmmsg/sendmmsg
#        responder (no parsing, no lookup: the kernel socket limit) runs in
#        the same round as the servers (SAT_ROUNDS rounds, default ROUNDS;
#        BARE_BIN and DNS_LOAD_BIN name built examples to use). All of
#        them run at once and each gets its DURATION seconds of a round in
#        SAT_SLICE-second turns (default 2), so a change in the host's speed
#        during a round falls on every server alike; SAT_SLICE=0 runs them
#        one after the other instead, each alone for DURATION seconds.
# Traffic goes to 127.0.0.1, or (SATURATE=1) to an address inside the
# namespaces this script creates, only; every run stops by itself after
# DURATION s.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-1}
PROTOS=${PROTOS-udp}
if [ -n "${DNSSEC:-}" ]; then SERVERS=${SERVERS:-headend knot}; else SERVERS=${SERVERS:-headend knot nsd}; fi
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
HZ=$(getconf CLK_TCK)

needed="dnsperf knotd nsd taskset"
[ -n "${SATURATE:-}" ] && needed+=" kxdpgun ip"
for p in $needed; do
  command -v "$p" >/dev/null || { echo "missing $p: apt-get install dnsperf knot knot-dnsutils nsd util-linux iproute2" >&2; exit 1; }
done
if [ -n "${SATURATE:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "SATURATE=1 creates network namespaces and attaches XDP: run as root" >&2; exit 1; }
  BARE=${BARE_BIN:-$PWD/target/release/examples/bare_responder}
  LOAD=${DNS_LOAD_BIN:-$PWD/target/release/examples/dns_load}
  if [ -z "${SKIP_BUILD:-}" ] || [ ! -x "$BARE" ] || [ ! -x "$LOAD" ]; then
    cargo build --release -p headend-dns --example bare_responder --example dns_load >&2
  fi
  # The generator: dns_load (batched system calls, one core) unless
  # SAT_GEN=kxdpgun. kxdpgun 3.2 (Debian 12) cannot load its XDP program on
  # every kernel (6.18's verifier refuses its bpf_xdp_adjust_meta call).
  SAT_GEN=${SAT_GEN:-dns_load}
fi

if [ -n "${HEADEND_BIN:-}" ]; then
  HEADEND=$HEADEND_BIN
else
  [ -n "${SKIP_BUILD:-}" ] || cargo build --release -p headend >&2
  HEADEND=$PWD/target/release/headend
fi
# base runs right after headend (SERVERS may be "headend" alone).
if [ -n "${BASE_BIN:-}" ]; then SERVERS="headend base${SERVERS#headend}"; fi

work=$(mktemp -d /tmp/headend-bench-dns.XXXXXX)
pids=()
# Where the servers listen and the prefix that runs a command beside them:
# loopback in this namespace, or (SATURATE=1) the server namespace.
ADDR=127.0.0.1
NSEXEC=()
ns_srv=""; ns_gen=""
cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  [ -n "$ns_srv" ] && ip netns del "$ns_srv" 2>/dev/null
  [ -n "$ns_gen" ] && ip netns del "$ns_gen" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# --- the zone: SOA, 2 NS + glue, 1,500 A, 200 AAAA, MX, 50 CNAME, SPF/DMARC,
# 100 TXT, SRV, one delegation with glue, one wildcard (1,863 records) ---
zone=$work/bench.test.zone
{
  echo '$ORIGIN bench.test.'
  echo '$TTL 3600'
  echo '@ IN SOA ns1 hostmaster 2026112401 7200 3600 1209600 300'
  echo '@ IN NS ns1'
  echo '@ IN NS ns2'
  echo 'ns1 IN A 192.0.2.1'
  echo 'ns2 IN A 192.0.2.2'
  echo '@ IN MX 10 mail'
  echo 'mail IN A 192.0.2.25'
  echo '@ IN TXT "v=spf1 mx ip4:192.0.2.0/24 -all"'
  echo '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@bench.test"'
  echo '_sip._tcp IN SRV 10 5 5060 mail'
  echo 'sub IN NS ns.sub'
  echo 'ns.sub IN A 192.0.2.53'
  echo '*.dyn IN A 192.0.2.80'
  for i in $(seq 1 1500); do echo "h$i IN A 198.51.$((i / 250)).$((i % 250 + 1))"; done
  for i in $(seq 1 200); do echo "h$i IN AAAA 2001:db8::$(printf %x "$i")"; done
  for i in $(seq 1 50); do echo "c$i IN CNAME h$i"; done
  for i in $(seq 1 100); do echo "t$i IN TXT \"record $i some text for the benchmark\""; done
} > "$zone"

# --- the query mix: 70 % A, 10 % AAAA, 10 % TXT/MX, 10 % NXDOMAIN ---
# QMIX=nxflood instead sends 1,000,000 distinct random names that do not exist
# (a random-subdomain flood): no name repeats within a pass of the file, so no
# server can answer from a per-name cache.
queries=$work/queries.txt
QMIX=${QMIX:-mix}
python3 - "$queries" "$QMIX" <<'PY'
import random, sys
random.seed(1)
out = []
if sys.argv[2] in ("nxflood", "wildflood"):
    # wildflood: the names fall under *.dyn (answers synthesised from the wildcard).
    parent = "dyn.bench.test" if sys.argv[2] == "wildflood" else "bench.test"
    for i in range(1000000):
        out.append(f"{random.getrandbits(40):010x}-{i}.{parent} " + random.choice(["A", "A", "A", "AAAA", "TXT"]))
    open(sys.argv[1], "w").write("\n".join(out) + "\n")
    sys.exit(0)
for _ in range(100000):
    r = random.random()
    if r < 0.70: out.append(f"h{random.randint(1,1500)}.bench.test A")
    elif r < 0.80: out.append(f"h{random.randint(1,200)}.bench.test AAAA")
    elif r < 0.85: out.append(f"t{random.randint(1,100)}.bench.test TXT")
    elif r < 0.90: out.append("bench.test MX")
    else: out.append(f"nx{random.randint(1,10**6)}.bench.test A")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY

# Outside the kernel's ephemeral port range (net.ipv4.ip_local_port_range,
# 32768-60999 by default), so no client socket can hold one.
port_headend=15331; port_knot=15332; port_nsd=15333; port_base=15334; port_bare=15335
headend_dnssec=""; knot_dnssec=""
if [ -n "${DNSSEC:-}" ]; then
  headend_dnssec='dnssec = { algorithm = "ecdsap256sha256", denial = "nsec" }'
  knot_dnssec='    dnssec-signing: on'
fi

# Every server reads its own copy of the zone: a server that writes its zone
# back (Knot signs into its zone file unless told otherwise) must never
# change what the next server loads.
for s in headend base knot nsd; do cp "$zone" "$work/zone.$s"; done

cat > "$work/headend.toml" <<EOF2
[general]
state_dir = "$work/headend-state"
[log]
level = "warn"
[dns]
listen = ["127.0.0.1:$port_headend"]
udp_workers = 1
[[dns.zone]]
origin = "bench.test"
file = "$work/zone.headend"
$headend_dnssec
EOF2
if [ -n "${RRL:-}" ]; then
  printf '[dns.rrl]\nresponses_per_second = %s\n' "$RRL" >> "$work/headend.toml"
fi

sed -e "s|$work/headend-state|$work/base-state|" -e "s|127.0.0.1:$port_headend|127.0.0.1:$port_base|" \
  -e "s|$work/zone.headend|$work/zone.base|" \
  "$work/headend.toml" > "$work/base.toml"

mkdir -p "$work/knot"
cat > "$work/knot/knot.conf" <<EOF2
server:
    listen: 127.0.0.1@$port_knot
    rundir: $work/knot
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $work/knot
log:
  - target: stderr
    any: warning
zone:
  - domain: bench.test
    file: $work/zone.knot
    storage: $work/knot
    zonefile-sync: -1
    journal-content: none
$knot_dnssec
EOF2

mkdir -p "$work/nsd"
cat > "$work/nsd/nsd.conf" <<EOF2
server:
    ip-address: 127.0.0.1@$port_nsd
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$work/nsd"
    database: ""
    zonelistfile: "$work/nsd/zone.list"
    xfrdfile: "$work/nsd/xfrd.state"
    xfrdir: "$work/nsd"
    pidfile: "$work/nsd/nsd.pid"
    rrl-ratelimit: 0
    minimal-responses: yes
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: bench.test
    zonefile: "$work/zone.nsd"
EOF2

wait_port() { # proto port [bare]
  for _ in $(seq 1 100); do
    if [ -n "${3:-}" ]; then
      # The bare responder answers with the question alone: any reply will do.
      "${NSEXEC[@]}" dig @"$ADDR" -p "$2" +time=1 +tries=1 bench.test SOA 2>/dev/null | grep -q 'status: NOERROR' && return 0
    elif [ -n "$("${NSEXEC[@]}" dig @"$ADDR" -p "$2" +time=1 +tries=1 bench.test SOA +short 2>/dev/null)" ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "server on port $2 did not answer" >&2; return 1
}

descendants() { # pid -> the pid and all its descendants (NSD serves from forked children)
  echo "$1"
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do descendants "$c"; done
}

# ticks_within PID SECONDS (bench/lib.sh), over this script's cpu_ticks.
. bench/lib.sh
cpu_ticks() { # pid -> utime+stime of all threads of the process and its descendants
  local total=0 p
  for p in $(descendants "$1"); do
    # Fields after "pid (comm) ": comm may hold spaces ("nsd: main"), so cut it off first.
    total=$((total + $(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)))
  done
  echo "$total"
}

start_server() { # name -> sets SPID, SPORT
  case $1 in
    headend)
      "${NSEXEC[@]}" taskset -c "$SERVER_CPU" "$HEADEND" serve --config "$work/headend.toml" 2>"$work/headend.log" &
      SPID=$!; SPORT=$port_headend ;;
    base)
      "${NSEXEC[@]}" taskset -c "$SERVER_CPU" "$BASE_BIN" serve --config "$work/base.toml" 2>"$work/base.log" &
      SPID=$!; SPORT=$port_base ;;
    knot)
      "${NSEXEC[@]}" taskset -c "$SERVER_CPU" knotd -c "$work/knot/knot.conf" 2>"$work/knot.log" &
      SPID=$!; SPORT=$port_knot ;;
    nsd)
      "${NSEXEC[@]}" taskset -c "$SERVER_CPU" nsd -d -c "$work/nsd/nsd.conf" 2>"$work/nsd.log" &
      SPID=$!; SPORT=$port_nsd ;;
    bare)
      "${NSEXEC[@]}" taskset -c "$SERVER_CPU" "$BARE" "$ADDR:$port_bare" "${BARE_SECS:-600}" 2>"$work/bare.log" &
      SPID=$!; SPORT=$port_bare ;;
  esac
  pids+=("$SPID")
  wait_port udp "$SPORT" "$([ "$1" = bare ] && echo bare)"
  # Knot pins its own worker threads whatever taskset said: re-pin every thread.
  taskset -a -cp "$SERVER_CPU" "$SPID" >/dev/null
}

stop_server() {
  kill "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
}

declare -A QPS CPU_QPS LAT LOST PER_ROUND
run_one() { # server proto
  start_server "$1"
  local mode=()
  [ "$2" = tcp ] && mode=(-m tcp)
  # DNSSEC=1: both servers sign the zone (ECDSA P-256, NSEC); queries carry DO=1.
  [ -n "${DNSSEC:-}" ] && mode+=(-D)
  [ "$2" = udp2 ] && mode=(-T 2 -c 8)
  local t0 t1 out
  t0=$(cpu_ticks "$SPID")
  taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$SPORT" -d "$queries" -l "$DURATION" \
        -c 4 -q 500 -T 1 "${mode[@]}" > "$work/dnsperf.out" 2>&1 &
  local gpid=$! gen_cpu
  # The generator's own CPU over its DURATION seconds of load (after them
  # dnsperf waits for late answers, which is no load).
  gen_cpu=$(awk -v t="$(ticks_within "$gpid" "$DURATION")" -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}')
  wait "$gpid" || true
  out=$(cat "$work/dnsperf.out")
  t1=$(cpu_ticks "$SPID")
  stop_server
  local qps lat lost completed cpu codes
  # Only the answers the zone holds count: a fast REFUSED or SERVFAIL must not
  # score. dnsperf prints "Response codes: NOERROR n (x%), NXDOMAIN n (y%)".
  codes=$(sed -n 's/^ *Response codes: *//p' <<<"$out")
  if grep -Eq '(FORMERR|SERVFAIL|NOTIMP|REFUSED|YXDOMAIN|NOTAUTH|BADVERS|RCODE)' <<<"$codes"; then
    echo "$1 $2: unexpected response codes ($codes): run refused" >&2
    exit 1
  fi
  qps=$(awk '/Queries per second:/ {print $4}' <<<"$out")
  lat=$(awk '/Average Latency/ {print $4}' <<<"$out")
  lost=$(awk '/Queries lost:/ {print $3}' <<<"$out")
  completed=$(awk '/Queries completed:/ {print $3}' <<<"$out")
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN {printf "%.3f", (b - a) / hz}')
  local per_cpu
  per_cpu=$(awk -v c="$completed" -v s="$cpu" 'BEGIN {if (s > 0) printf "%.0f", c / s; else print 0}')
  local busy
  busy=$(awk -v s="$cpu" -v d="$DURATION" 'BEGIN {printf "%.0f", 100 * s / d}')
  printf '%-8s %-4s qps=%-10s lat_ms=%-8s lost=%-7s cpu_s=%-7s server_cpu=%3s%% generator_cpu_s=%-6s qps_per_cpu_s=%s%s\n' \
    "$1" "$2" "$qps" "$(awk -v l="$lat" 'BEGIN {printf "%.3f", l * 1000}')" "$lost" "$cpu" "$busy" "$gen_cpu" "$per_cpu" \
    "$([ "$busy" -lt 95 ] && [ "$2" != udp2 ] && echo '  (server below 95 % of its core: the rate is the generator'"'"'s limit; compare per CPU-second)')"
  PER_ROUND[$1,$2]+="$per_cpu "
  QPS[$1,$2]=$(awk -v a="${QPS[$1,$2]:-0}" -v b="$qps" 'BEGIN {print a + b}')
  CPU_QPS[$1,$2]=$(awk -v a="${CPU_QPS[$1,$2]:-0}" -v b="$per_cpu" 'BEGIN {print a + b}')
}

echo "zone: $(grep -vc '^\$' "$zone") records; queries: $QMIX; rrl: ${RRL:-off}; dnsperf -c 4 -q 500 -T 1 -l $DURATION; server CPU $SERVER_CPU, client CPU $CLIENT_CPU"
for round in $(seq 1 "$ROUNDS"); do
  for proto in $PROTOS; do
    for server in $SERVERS; do
      run_one "$server" "$proto"
    done
  done
done

# Latency at a fixed offered load (issue target: p99 < 1 ms at 100,000 QPS).
# LAT_ROUNDS runs per server (alternating servers), each 10 s; the summary
# is the median of the rounds' p99, which one noisy round cannot move.
if [ -n "${LATENCY_QPS:-}" ]; then
  declare -A P99S
  for round in $(seq 1 "${LAT_ROUNDS:-3}"); do
    for server in $SERVERS; do
      start_server "$server"
      # Per-query latencies go to a file, not a pipe: a sort or awk reading
      # them live would compete with the pinned server and client for CPU.
      taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$SPORT" -d "$queries" -l 10 -c 4 -q 500 -T 1 \
            -Q "$LATENCY_QPS" -v >"$work/latency.txt" 2>/dev/null || true
      stop_server
      lat=$(awk '/^> / {print $NF}' "$work/latency.txt" | sort -n | awk '
            {v[NR] = $1} END {if (NR == 0) {print "no answers"; exit}
            printf "answers=%d p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f", NR, v[int(NR*0.5)]*1000, v[int(NR*0.99)]*1000, v[int(NR*0.999)]*1000}')
      rm -f "$work/latency.txt"
      printf '%-8s udp offered=%s/s round=%s %s\n' "$server" "$LATENCY_QPS" "$round" "$lat"
      P99S[$server]+="$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$lat") "
    done
  done
  for server in $SERVERS; do
    printf '%-8s udp offered=%s/s median p99_ms=%s (rounds: %s)\n' "$server" "$LATENCY_QPS" \
      "$(tr ' ' '\n' <<<"${P99S[$server]}" | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')" \
      "${P99S[$server]% }"
  done
fi

# Saturation: kxdpgun (AF_XDP, one core) floods each server from a namespace
# of its own across a veth pair; the servers and the bare responder answer in
# another namespace, pinned to SERVER_CPU as above. The bare responder turns
# each query around with no DNS work at all, so its row is the socket limit of
# this kernel in this run: a server at 1.00x of it spends nothing measurable
# on DNS. Replies per server-CPU-second are the figure to compare (the kernel's
# receive path for a datagram runs partly on the sender's core).
if [ -n "${SATURATE:-}" ]; then
  ns_srv=hdns-srv-$$; ns_gen=hdns-gen-$$
  ip netns add "$ns_srv"; ip netns add "$ns_gen"
  ip link add hds$$ netns "$ns_srv" type veth peer name hdg$$ netns "$ns_gen"
  ip -n "$ns_srv" addr add 10.231.0.1/30 dev hds$$
  ip -n "$ns_gen" addr add 10.231.0.2/30 dev hdg$$
  ip -n "$ns_srv" link set lo up; ip -n "$ns_gen" link set lo up
  ip -n "$ns_srv" link set hds$$ up; ip -n "$ns_gen" link set hdg$$ up
  srv_mac=$(ip -n "$ns_srv" -br link show hds$$ | awk '{print $3}')
  gen_mac=$(ip -n "$ns_gen" -br link show hdg$$ | awk '{print $3}')
  ip -n "$ns_gen" neigh replace 10.231.0.1 lladdr "$srv_mac" dev hdg$$ nud permanent
  ip -n "$ns_srv" neigh replace 10.231.0.2 lladdr "$gen_mac" dev hds$$ nud permanent
  ADDR=10.231.0.1
  NSEXEC=(ip netns exec "$ns_srv")
  sed -i "s/127\.0\.0\.1/$ADDR/g" "$work/headend.toml" "$work/base.toml" "$work/knot/knot.conf" "$work/nsd/nsd.conf"
  SAT_QPS=${SATURATE_QPS:-1500000}
  echo "saturation: generator $SAT_GEN in namespace $ns_gen on CPU $CLIENT_CPU, servers in $ns_srv on CPU $SERVER_CPU"
  declare -A SAT_PER_CPU SAT_RATE
  # One measured run of the generator against a started server (SPID, SPORT)
  # for $1 seconds: sets sent, replies, gen_cpu, ticks (the server's CPU
  # ticks over it) and bad (unexpected rcodes; the caller refuses the run).
  sat_measure() { # seconds server
    local t0 t1 out
    t0=$(cpu_ticks "$SPID")
    if [ "$SAT_GEN" = kxdpgun ]; then
      out=$(ip netns exec "$ns_gen" kxdpgun -t "$1" -Q "$SAT_QPS" -i "$queries" -I hdg$$ \
            -p "$SPORT" -F "$CLIENT_CPU" -L "$gen_mac" -R "$srv_mac" -l 10.231.0.2 10.231.0.1 2>&1) \
        || { echo "kxdpgun failed against $2: $out" >&2; exit 1; }
      sent=$(awk '/total queries:/ {print $3}' <<<"$out")
      replies=$(awk '/total replies:/ {print $3}' <<<"$out")
      gen_cpu=0
      # Every server answers the mix with NOERROR or NXDOMAIN (the bare
      # responder with NOERROR): any other rcode refuses the run.
      bad=$(grep -E '^responded ' <<<"$out" | grep -Ev 'responded (NOERROR|NXDOMAIN):' || true)
    else
      out=$(ip netns exec "$ns_gen" taskset -c "$CLIENT_CPU" "$LOAD" --server "10.231.0.1:$SPORT" \
            --queries "$queries" --secs "$1" 2>&1) \
        || { echo "dns_load failed against $2: $out" >&2; exit 1; }
      sent=$(sed -n 's/.*\bsent=\([0-9]*\).*/\1/p' <<<"$out")
      replies=$(sed -n 's/.*\breplies=\([0-9]*\).*/\1/p' <<<"$out")
      gen_cpu=$(sed -n 's/.*generator_cpu_s=\([0-9.]*\).*/\1/p' <<<"$out")
      bad=$(sed -n 's/.*other_rcode=\([1-9][0-9]*\).*/\1 answers with an rcode other than NOERROR or NXDOMAIN/p' <<<"$out")
    fi
    t1=$(cpu_ticks "$SPID")
    ticks=$((t1 - t0))
    if [ -n "$bad" ]; then
      echo "$2 saturated: unexpected response codes: $bad" >&2; exit 1
    fi
  }
  # Prints a server's row of one round and keeps its figures for the ratios.
  sat_row() { # server sent replies ticks generator-cpu-s seconds
    local cpu rate per_cpu busy
    cpu=$(awk -v t="$4" -v hz="$HZ" 'BEGIN {printf "%.3f", t / hz}')
    rate=$(awk -v r="${3:-0}" -v d="$6" 'BEGIN {printf "%.0f", r / d}')
    per_cpu=$(awk -v r="${3:-0}" -v c="$cpu" 'BEGIN {if (c > 0) printf "%.0f", r / c; else print 0}')
    busy=$(awk -v s="$cpu" -v d="$6" 'BEGIN {printf "%.0f", 100 * s / d}')
    printf '%-8s saturated sent=%-9s replies=%-9s replies_per_s=%-8s cpu_s=%-7s server_cpu=%3s%% generator_cpu_s=%-5s replies_per_cpu_s=%s%s\n' \
      "$1" "${2:-0}" "${3:-0}" "$rate" "$cpu" "$busy" "$([ "$SAT_GEN" = kxdpgun ] && echo n/a || echo "$5")" "$per_cpu" \
      "$([ "$busy" -lt 95 ] && echo '  (server below 95 % of its core: not saturated)')"
    SAT_PER_CPU[$1]+="$per_cpu "
    SAT_RATE[$1]+="$rate "
  }
  SAT_SLICE=${SAT_SLICE:-2}
  if [ "$SAT_SLICE" != 0 ]; then
    # Interleaved: every server runs at once (idle ones cost nothing), and
    # each round gives each server DURATION seconds in SAT_SLICE-second
    # slices, taking turns, so a change in the host's speed during a round
    # falls on every server alike instead of on whichever ran then.
    slices=$(awk -v d="$DURATION" -v s="$SAT_SLICE" 'BEGIN {n = int(d / s + 0.5); print (n < 1 ? 1 : n)}')
    declare -A S_PID S_PORT
    # The bare responder stops by itself: let it outlive every round.
    BARE_SECS=$(( $(wc -w <<<"bare $SERVERS") * ${SAT_ROUNDS:-$ROUNDS} * (DURATION + slices) * 2 + 600 ))
    for server in bare $SERVERS; do
      start_server "$server"
      S_PID[$server]=$SPID; S_PORT[$server]=$SPORT
    done
    echo "saturation: interleaved, $slices slices of $SAT_SLICE s per server and round"
    for round in $(seq 1 "${SAT_ROUNDS:-$ROUNDS}"); do
      declare -A T_SENT=() T_REPLIES=() T_TICKS=() T_GEN=()
      for _ in $(seq 1 "$slices"); do
        for server in bare $SERVERS; do
          SPID=${S_PID[$server]}; SPORT=${S_PORT[$server]}
          sat_measure "$SAT_SLICE" "$server"
          T_SENT[$server]=$(( ${T_SENT[$server]:-0} + ${sent:-0} ))
          T_REPLIES[$server]=$(( ${T_REPLIES[$server]:-0} + ${replies:-0} ))
          T_TICKS[$server]=$(( ${T_TICKS[$server]:-0} + ticks ))
          T_GEN[$server]=$(awk -v a="${T_GEN[$server]:-0}" -v b="${gen_cpu:-0}" 'BEGIN {printf "%.2f", a + b}')
        done
      done
      for server in bare $SERVERS; do
        sat_row "$server" "${T_SENT[$server]}" "${T_REPLIES[$server]}" "${T_TICKS[$server]}" \
          "${T_GEN[$server]}" "$(awk -v n="$slices" -v s="$SAT_SLICE" 'BEGIN {print n * s}')"
      done
    done
    for server in bare $SERVERS; do SPID=${S_PID[$server]}; stop_server; done
  else
    for round in $(seq 1 "${SAT_ROUNDS:-$ROUNDS}"); do
      for server in bare $SERVERS; do
        start_server "$server"
        sat_measure "$DURATION" "$server"
        stop_server
        sat_row "$server" "$sent" "$replies" "$ticks" "$gen_cpu" "$DURATION"
      done
    done
  fi
  # One ratio per round of two servers' replies per server-CPU-second.
  sat_ratios() { # numerator denominator
    local -a ns ds
    local i out=""
    read -r -a ns <<<"${SAT_PER_CPU[$1]:-}"
    read -r -a ds <<<"${SAT_PER_CPU[$2]:-}"
    for i in "${!ns[@]}"; do
      out+="$(awk -v n="${ns[$i]}" -v d="${ds[$i]:-0}" 'BEGIN {printf "%.2f", (d > 0 ? n / d : 0)}') "
    done
    printf 'ratio saturated: %s/%s replies_per_cpu_s = %s(per round)\n' "$1" "$2" "$out"
  }
  for server in $SERVERS; do sat_ratios "$server" bare; done
  for anchor in knot nsd; do
    case " $SERVERS " in *" $anchor "*) sat_ratios headend "$anchor" ;; esac
  done
fi

# Two cores: two UDP workers (headend), two UDP workers (Knot), two servers
# (NSD), load generator unpinned, to show throughput growing with cores.
if [ -n "${MULTICORE:-}" ]; then
  sed -i 's/^udp_workers = 1/udp_workers = 2/' "$work/headend.toml" "$work/base.toml"
  sed -i 's/udp-workers: 1/udp-workers: 2/' "$work/knot/knot.conf"
  sed -i 's/server-count: 1/server-count: 2/' "$work/nsd/nsd.conf"
  SERVER_CPU=0-1 CLIENT_CPU=0-1
  for server in $SERVERS; do
    run_one "$server" udp2
  done
fi

echo
echo "averages over $ROUNDS round(s):"
for proto in $PROTOS; do
  for server in $SERVERS; do
    printf '%-8s %-4s qps=%.0f qps_per_cpu_s=%.0f\n' "$server" "$proto" \
      "$(awk -v a="${QPS[$server,$proto]:-0}" -v n="$ROUNDS" 'BEGIN {print a / n}')" \
      "$(awk -v a="${CPU_QPS[$server,$proto]:-0}" -v n="$ROUNDS" 'BEGIN {print a / n}')"
  done
  for anchor in knot nsd base; do
    case " $SERVERS " in *" $anchor "*) ;; *) continue ;; esac
    # One ratio per round; a ratio that moves more than 10 % between rounds
    # is a range, not one figure.
    read -r -a hs <<<"${PER_ROUND[headend,$proto]:-}"
    read -r -a as <<<"${PER_ROUND[$anchor,$proto]:-}"
    ratios=""
    for i in "${!hs[@]}"; do
      if [ -n "${as[$i]:-}" ]; then
        ratios+="$(awk -v h="${hs[$i]}" -v a="${as[$i]}" 'BEGIN {printf "%.2f", (a > 0 ? h / a : 0)}') "
      fi
    done
    awk -v r="$ratios" -v p="$proto" -v a="$anchor" -v hq="${QPS[headend,$proto]:-0}" -v aq="${QPS[$anchor,$proto]:-0}" '
      BEGIN {n = split(r, v, " "); lo = v[1]; hi = v[1]; s = 0
             for (i = 1; i <= n; i++) {s += v[i]; if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i]}
             mean = (n > 0 ? s / n : 0)
             fig = (n > 1 && hi > 1.1 * lo) ? sprintf("%.2f-%.2f (mean %.2f; rounds: %s)", lo, hi, mean, r) : sprintf("%.2f (rounds: %s)", mean, r)
             printf "ratio %s: headend/%s qps_per_cpu_s = %s; qps = %.2f\n", p, a, fig, (aq > 0 ? hq / aq : 0)}'
  done
done
