#!/usr/bin/env bash
# `npm run bench`: builds what the benchmark compares, then runs it (bench/run.mjs).
#   1. setup (idempotent), the server, the npm package (scripts/build.sh) unless BENCH_SKIP_BUILD=1
#   2. the bench crates (bench/rust-stream, bench/gloo-net; their own cargo workspace, target dir
#      target/bench) with wasm-pack, each also as a minimal consumer for the size comparison
#   3. the bench page (bench/webpack.config.js -> bench/out/dist, chunk stats for the sizes)
#   4. node bench/run.mjs: writes bench/results.json, bench/results.md, bench/chart.svg
# Environment for the run itself: see bench/run.mjs (BENCH_MESSAGES, BENCH_ROUNDS, ...).
#   5. node bench/flood-memory.mjs: memory during a 30 s upload to a slow reader (its section of
#      bench/results.md, bench/flood-memory.json)
# `npm run bench -- --profile`: instead, CPU and allocation profiles of the receive path
# (bench/profile.mjs), on builds that keep wasm function names.
#   6. node bench/resume-cost.mjs (before step 5): the per-message cost of resume mode (its
#      section of bench/results.md, bench/resume-cost.json)
#   7. bench/json-decode (after step 4), natively: `Json::decode` against serde_json per message
#      (its section of bench/results.md)
# `npm run bench -- json`: only step 7.
# `npm run bench -- memory`: only step 5 (it needs the server and the npm package, rebuilt when
# stale as in step 1; FLOOD_* variables: see bench/flood-memory.mjs).
# `npm run bench -- resume`: only step 6 (the same needs; RESUME_* variables: see
# bench/resume-cost.mjs).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_setup
json_decode() {
  echo "[bench] bench/json-decode (native, release): Json::decode against serde_json"
  (cd "$ROOT/bench" && CARGO_TARGET_DIR="$ROOT/target/bench-native" \
    cargo run -q --release -p bench-json-decode -- "$ROOT/bench/results.md")
}
if [ "${1:-}" = json ]; then
  json_decode
  exit
fi
if [ "${1:-}" = memory ] || [ "${1:-}" = resume ]; then
  echo "[bench] resocket-server (release)"
  cargo build -q --release -p resocket-server
  if [ "${BENCH_REBUILD:-0}" = 1 ] || { [ "${BENCH_SKIP_BUILD:-0}" != 1 ] && { [ ! -f pkg/resocket.wasm ] \
    || [ -n "$(find src Cargo.toml -newer pkg/resocket.wasm -print -quit)" ]; }; }; then
    bash "$ROOT/scripts/build.sh"
  fi
  if [ "$1" = resume ]; then exec node "$ROOT/bench/resume-cost.mjs"; fi
  exec node "$ROOT/bench/flood-memory.mjs"
fi
bash "$ROOT/scripts/bench-build.sh"
if [ "${1:-}" = --profile ]; then
  # Like wasm-pack's release build (cargo, wasm-bindgen, wasm-opt -Os), but keeping function names
  # (wasm-opt -g); own target dirs, so the two workspaces' builds of one dependency never meet
  # in one LTO link.
  profiling_build() { # DIR CRATE_FILE OUT_DIR OUT_NAME [cargo args...]
    local dir="$1" file="$2" out="$3" name="$4"; shift 4
    local target="$ROOT/target/bench-profiling-$name"
    echo "[bench] profiling build of $dir -> $out"
    (cd "$dir" && CARGO_TARGET_DIR="$target" cargo build -q --release --target wasm32-unknown-unknown "$@")
    wasm-bindgen --target bundler --keep-debug --out-dir "$out" --out-name "$name" \
      "$target/wasm32-unknown-unknown/release/$file.wasm"
    wasm-opt -Os -g "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
  }
  # The npm package's engine as scripts/build.sh builds it, its function names kept, under the
  # package's root entry as scripts/package.mjs writes it (not minified).
  echo "[bench] profiling build of the npm engine -> bench/out/pkg-profiling"
  mkdir -p "$ROOT/bench/out/pkg-profiling"
  CARGO_PROFILE_RELEASE_OPT_LEVEL=z cargo build -q --release --target wasm32-unknown-unknown -p resocket --no-default-features --features npm
  node "$ROOT/scripts/engine-wasm.mjs" "$ROOT/target/wasm32-unknown-unknown/release/resocket.wasm" \
    "$ROOT/bench/out/pkg-profiling/resocket.wasm" --keep-names
  { sed 's/^export function/function/' "$ROOT/src/url.js"; cat "$ROOT/src/js/resocket.js"
    echo "instantiate(new URL('./resocket.wasm', import.meta.url)).then(engineLoaded, (e) => engineLoaded(null, e));"
  } > "$ROOT/bench/out/pkg-profiling/resocket.js"
  profiling_build "$ROOT/bench/rust-stream" bench_rust_stream "$ROOT/bench/out/rust-stream-profiling" rust_stream
  npx --no-install webpack --config bench/webpack.config.js --no-stats --env pkg=bench/out/pkg-profiling \
    --env rustStream=bench/out/rust-stream-profiling --env out=dist-profiling --env profiling
  exec node "$ROOT/bench/profile.mjs"
fi
node "$ROOT/bench/run.mjs"
json_decode
node "$ROOT/bench/resume-cost.mjs"
exec node "$ROOT/bench/flood-memory.mjs"
