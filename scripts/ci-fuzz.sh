#!/usr/bin/env bash
# Fuzz smoke run for CI: builds every cargo-fuzz target under fuzz/fuzz_targets
# and runs each over its checked-in corpus (fuzz/corpus/NAME) for a fixed
# number of executions, so that a target that no longer compiles, or a corpus
# input that crashes again, fails CI. Long runs: docs/fuzzing.md.
#
# Usage: scripts/ci-fuzz.sh            (FUZZ_RUNS=20000 executions per target)
#        FUZZ_RUNS=200000 scripts/ci-fuzz.sh
#
# Build choices (docs/fuzzing.md says why): no sanitizer (the workspace forbids
# unsafe code, and AddressSanitizer doubles the cold build), release
# optimisation with debug assertions and overflow checks on, so an integer
# overflow on input-derived data is a crash here as it would be in a debug build.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${FUZZ_RUNS:-20000}
toolchain=${FUZZ_TOOLCHAIN:-nightly}

if ! cargo "+$toolchain" fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

# The fuzz package is its own workspace with no lock file of its own: start
# from the main workspace's, so both build the same dependency versions.
if [ ! -e fuzz/Cargo.lock ]; then
  cp Cargo.lock fuzz/Cargo.lock
fi

build_flags=(--sanitizer none --release --debug-assertions)

cargo "+$toolchain" fuzz build "${build_flags[@]}"

# New inputs the fuzzer finds go to a scratch directory (the first corpus
# argument), never into the checked-in corpus.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

failed=()
for src in fuzz/fuzz_targets/*.rs; do
  target=$(basename "$src" .rs)
  corpus=fuzz/corpus/$target
  if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
    echo "ci-fuzz: $target has no corpus at $corpus" >&2
    failed+=("$target")
    continue
  fi
  mkdir -p "$scratch/$target"
  echo "ci-fuzz: $target, $runs runs over $corpus"
  if ! cargo "+$toolchain" fuzz run "${build_flags[@]}" "$target" \
    "$scratch/$target" "$corpus" -- -runs="$runs" -seed=1 -print_final_stats=1; then
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "ci-fuzz: failed: ${failed[*]} (crash inputs under fuzz/artifacts/)" >&2
  exit 1
fi
echo "ci-fuzz: all targets passed"
