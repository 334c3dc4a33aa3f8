#!/usr/bin/env bash
# Builds the npm package (pkg/: the engine's wasm, the entry modules, see scripts/package.mjs)
# and the dashboard bundle (www/dist/).
# Expects the toolchain environment (scripts/lib.sh ensure_setup) to be loaded.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# opt-level "z" for the wasm only (the workspace's release profile, "s", also builds the native
# server): about 3 KB gzip smaller, and the per-message path runs in JS anyway.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z
# From scratch: earlier builds may have left other files.
rm -rf pkg
mkdir -p pkg/resume
# The engine is the crate with feature `npm` (src/js/abi.rs): plain wasm exports, no
# wasm-bindgen. scripts/engine-wasm.mjs keeps only its exports and runs wasm-opt -Oz.
WASM=target/wasm32-unknown-unknown/release/resocket.wasm
echo "[build] cargo build --release --target wasm32-unknown-unknown --features npm -> pkg/resocket.wasm"
cargo build -q --release --target wasm32-unknown-unknown -p resocket --no-default-features --features npm
node scripts/engine-wasm.mjs "$WASM" pkg/resocket.wasm
# The `resocket/resume` entry: the same class over an engine with the resume protocol built in
# (feature `resume`), so that an app without it does not load it.
echo "[build] cargo build ... --features npm,resume -> pkg/resume/resocket.wasm"
cargo build -q --release --target wasm32-unknown-unknown -p resocket --no-default-features --features npm,resume
node scripts/engine-wasm.mjs "$WASM" pkg/resume/resocket.wasm
node scripts/package.mjs
echo "[build] webpack -> www/dist/"
npx --no-install webpack --no-stats
echo "[build] done: $(du -b pkg/resocket.wasm | cut -f1) bytes wasm ($(gzip -9c pkg/resocket.wasm | wc -c) gzipped), www/dist ready"
