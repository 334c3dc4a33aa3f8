#!/usr/bin/env bash
# Builds everything the benchmark and the soak load (see scripts/bench.sh). Expects the toolchain
# environment (scripts/lib.sh ensure_setup). The npm package (scripts/build.sh) is rebuilt when a
# file under src/ or Cargo.toml is newer than it, or when BENCH_REBUILD=1; BENCH_SKIP_BUILD=1
# keeps pkg/ as it is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
step() { echo "[bench-build] $*"; }

step "resocket-server (release)"
cargo build -q --release -p resocket-server
pkg_stale() {
  [ ! -f pkg/resocket.wasm ] || [ ! -f pkg/resume/resocket.wasm ] && return 0
  [ -n "$(find src Cargo.toml scripts/package.mjs scripts/engine-wasm.mjs -newer pkg/resocket.wasm -print -quit)" ]
}
if [ "${BENCH_REBUILD:-0}" = 1 ] || { [ "${BENCH_SKIP_BUILD:-0}" != 1 ] && pkg_stale; }; then
  bash "$ROOT/scripts/build.sh"
else
  step "pkg/ is up to date with src/ (BENCH_REBUILD=1 rebuilds it)"
fi

# The bench crates are their own workspace (bench/Cargo.toml) with their own target dirs (one per
# feature set, so neither build invalidates the other), so they neither join
# `cargo clippy --workspace` nor wait on the root target dir's lock. Skipped while their output
# is newer than every source they are built from.
fresh() { # fresh OUTPUT: no source newer than OUTPUT
  [ -f "$1" ] && [ -z "$(find src Cargo.toml Cargo.lock bench/Cargo.toml bench/Cargo.lock bench/rust-stream \
    bench/gloo-net -newer "$1" -print -quit)" ]
}
crate() { # crate DIR OUT_NAME
  local dir="$1" name="$2"
  if fresh "bench/out/$dir/${name}_bg.wasm" && fresh "bench/out/min-$dir/${name}_bg.wasm"; then
    step "bench/out/$dir and bench/out/min-$dir are up to date"
    return
  fi
  step "wasm-pack bench/$dir -> bench/out/$dir, minimal consumer -> bench/out/min-$dir"
  CARGO_TARGET_DIR="$ROOT/target/bench" wasm-pack --log-level warn build --release --target bundler \
    --no-pack --out-dir "../out/$dir" --out-name "$name" "bench/$dir"
  CARGO_TARGET_DIR="$ROOT/target/bench-minimal" wasm-pack --log-level warn build --release --target bundler \
    --no-pack --out-dir "../out/min-$dir" --out-name "$name" "bench/$dir" -- --features minimal
}
crate rust-stream rust_stream
crate gloo-net gloo_net

step "webpack bench/pages -> bench/out/dist"
npx --no-install webpack --config bench/webpack.config.js --json > bench/out/stats.json
step "done"
