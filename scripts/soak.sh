#!/usr/bin/env bash
# `npm run soak`: the bounded chaos soak (bench/soak.mjs) against the npm package's plain ESM
# build (pkg/web/); `npm run soak -- --resume`: the resume soak (arguments pass through). Builds the server, and the package when src/ is newer than it
# (BENCH_REBUILD=1 always, BENCH_SKIP_BUILD=1 never).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_setup
echo "[soak] building resocket-server"
cargo build -q --release -p resocket-server
if [ "${BENCH_REBUILD:-0}" = 1 ] || [ ! -f pkg/resocket.wasm ] \
  || { [ "${BENCH_SKIP_BUILD:-0}" != 1 ] && [ -n "$(find src Cargo.toml -newer pkg/resocket.wasm -print -quit)" ]; }; then
  bash "$ROOT/scripts/build.sh"
fi
exec node "$ROOT/bench/soak.mjs" "$@"
