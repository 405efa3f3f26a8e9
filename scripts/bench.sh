#!/usr/bin/env bash
# `make bench`: native benchmarks, then the browser benchmarks in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --example bench_native
node scripts/bench.mjs "$@"
