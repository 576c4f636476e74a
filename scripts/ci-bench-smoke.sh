#!/usr/bin/env bash
# Benchmark smoke run for CI: runs every script under bench/ once in its
# smallest form against an already built binary, so that the scripts cannot
# rot. The figures are not judged; a script that fails fails this one.
#
# Usage: cargo build -p headend && scripts/ci-bench-smoke.sh
#        HEADEND_BIN=$PWD/target/release/headend scripts/ci-bench-smoke.sh
# bench/tftp.sh builds its client (tftp_bench) on first use; bench/admin.sh
# installs wrk if missing. dhcp.sh runs perfdhcp for 15 s per server.
set -euo pipefail
cd "$(dirname "$0")/.."

export HEADEND_BIN=${HEADEND_BIN:-$PWD/target/debug/headend}
if [ ! -x "$HEADEND_BIN" ]; then
  echo "ci-bench-smoke: no binary at $HEADEND_BIN (cargo build -p headend)" >&2
  exit 1
fi
export SKIP_BUILD=1 ROUNDS=1 DURATION=2

run() {
  echo "ci-bench-smoke: $*"
  env "$@"
}

run LAT_ROUNDS=1 SATURATE=1 BARE_BIN=$PWD/target/debug/examples/bare_responder \
  DNS_LOAD_BIN=$PWD/target/debug/examples/dns_load bench/dns.sh
# The saturation rows one server after the other (the default interleaves them).
run PROTOS= SATURATE=1 SAT_SLICE=0 BARE_BIN=$PWD/target/debug/examples/bare_responder \
  DNS_LOAD_BIN=$PWD/target/debug/examples/dns_load bench/dns.sh
run RATES=1000 LOADGEN=$PWD/target/debug/examples/dhcp_load bench/dhcp.sh
run SMALL_COUNT=20 PARALLEL=2 bench/tftp.sh
run LOGIN_DURATION=2 CONNS=4 bench/admin.sh
run RECORDS=1000 bench/dns-scale.sh
run MODEMS=200 SPEED_N=20000 bench/docsis.sh
run RATES=1000 bench/dhcp6.sh 2
run RATES=500 LOADGEN=$PWD/target/debug/examples/dhcp_load bench/dhcp-shared.sh 2
run DNSSEC=0 bench/dns-update.sh
run N=300 WINDOW=64 STORM_LOAD=$PWD/target/debug/examples/storm_load bench/storm.sh
echo "ci-bench-smoke: all bench scripts ran"
