#!/usr/bin/env bash
# `npm run bench`: builds what the benchmark compares, then runs it (bench/run.mjs).
#   1. setup (idempotent), the server, the npm package (scripts/build.sh) unless BENCH_SKIP_BUILD=1
#   2. the bench crates (bench/rust-stream, bench/gloo-net; their own cargo workspace, target dir
#      target/bench) with wasm-pack, each also as a minimal consumer for the size comparison
#   3. the bench page (bench/webpack.config.js -> bench/out/dist, chunk stats for the sizes)
#   4. node bench/run.mjs: writes bench/results.json, bench/results.md, bench/chart.svg
# Environment for the run itself: see bench/run.mjs (BENCH_MESSAGES, BENCH_ROUNDS, ...).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_setup
bash "$ROOT/scripts/bench-build.sh"
exec node "$ROOT/bench/run.mjs"
