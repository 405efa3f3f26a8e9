#!/usr/bin/env bash
# `make fuzz`: runs the proptest fuzzers (tests/fuzz.rs) again and again with fresh random
# seeds for FUZZ_SECONDS (default 600), then prints the executions and time.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_WANTED=${FUZZ_SECONDS:-600}
BATCH=${FUZZ_CASES:-5000}
cargo test --release --test fuzz --no-run -q
start=$(date +%s)
runs=0
while [ $(( $(date +%s) - start )) -lt "$SECONDS_WANTED" ]; do
  FUZZ_CASES=$BATCH cargo test --release -q --test fuzz >/dev/null
  runs=$((runs + 1))
done
elapsed=$(( $(date +%s) - start ))
echo "fuzz: $runs rounds × 2 fuzzers × $BATCH cases = $((runs * 2 * BATCH)) executions in ${elapsed}s, no failure"
