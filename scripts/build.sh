#!/usr/bin/env bash
# Builds the npm package (pkg/, bundler target) and the dashboard bundle (www/dist/).
# Expects the toolchain environment (scripts/lib.sh ensure_setup) to be loaded.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
echo "[build] wasm-pack build --release --target bundler -> pkg/"
wasm-pack --log-level warn build --release --target bundler --out-dir pkg --out-name resocket
echo "[build] webpack -> www/dist/"
npx --no-install webpack --no-stats
echo "[build] done: $(du -sh pkg/resocket_bg.wasm | cut -f1) wasm, www/dist ready"
