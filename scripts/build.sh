#!/usr/bin/env bash
# Builds the npm package (pkg/: bundler target, plus pkg/web/: the `web` target for plain ES
# modules) and the dashboard bundle (www/dist/).
# Expects the toolchain environment (scripts/lib.sh ensure_setup) to be loaded.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# opt-level "z" for the wasm only (the workspace's release profile, "s", also builds the native
# server): about 3 KB gzip smaller, and the per-message path runs in JS anyway.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z
# From scratch: wasm-pack leaves files of earlier builds (snippets, renamed outputs) in place.
rm -rf pkg
echo "[build] wasm-pack build --release --target bundler -> pkg/"
wasm-pack --log-level warn build --release --target bundler --out-dir pkg --out-name resocket_core -- --no-default-features --features npm
echo "[build] wasm-pack build --release --target web -> pkg/web/"
wasm-pack --log-level warn build --release --target web --out-dir pkg/web --out-name resocket_core -- --no-default-features --features npm
# The `resocket/resume` entry: the same class over an engine with the resume protocol built in
# (feature `resume`, about 6.6 KB gzip more), so that an app without it does not load it.
echo "[build] wasm-pack build --release --target web --features resume -> pkg/resume/"
wasm-pack --log-level warn build --release --target web --out-dir pkg/resume --out-name resocket_core -- --no-default-features --features npm,resume
node scripts/package.mjs
echo "[build] webpack -> www/dist/"
npx --no-install webpack --no-stats
echo "[build] done: $(du -b pkg/resocket_core_bg.wasm | cut -f1) bytes wasm ($(gzip -9c pkg/resocket_core_bg.wasm | wc -c) gzipped), www/dist ready"
