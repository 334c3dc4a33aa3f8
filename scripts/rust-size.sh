#!/usr/bin/env bash
# `bash scripts/rust-size.sh [--names]`: the bench's minimal Rust consumer (bench/rust-stream
# with `--features minimal`), built exactly as scripts/bench-build.sh builds it (wasm-pack
# --release --target bundler, opt-level "s", LTO, wasm-opt -Os) and measured as bench/run.mjs
# measures it (import/export names shortened, JS glue and snippets minified, gzip -9), without
# the rest of the bench. Output: target/rust-size/out (the bench's own bench/out is untouched).
# --names: also a copy with function names kept (wasm-bindgen --keep-debug, wasm-opt -Os -g),
# and its largest functions and crates (scripts/rust-size.mjs --names).
# Expects the toolchain environment (source target/toolchain.env).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/rust-size"
mkdir -p "$OUT"
export CARGO_TARGET_DIR="$OUT/cargo"
wasm-pack --log-level warn build --release --target bundler --no-pack --out-dir "$OUT/out" \
  --out-name rust_stream bench/rust-stream -- --features minimal
if [ "${1:-}" = --names ]; then
  rm -rf "$OUT/named" && mkdir -p "$OUT/named"
  wasm-bindgen --keep-debug --target bundler --out-dir "$OUT/named" --out-name rust_stream \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/bench_rust_stream.wasm"
  wasm-opt -Os -g --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$OUT/named/rust_stream_bg.wasm" -o "$OUT/named/rust_stream_bg.wasm"
fi
node "$ROOT/scripts/rust-size.mjs" "$OUT/out" "$@"
