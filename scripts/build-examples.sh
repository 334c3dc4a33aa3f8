#!/usr/bin/env bash
# Builds the Yew and Leptos example apps (examples/) and checks the framework integrations
# (integrations/): rustfmt, clippy -D warnings for wasm32, a release wasm32 build, then
# wasm-bindgen --target web (and wasm-opt) into target/example-apps/<app>/ with its index.html.
# tests/e2e/examples.test.mjs serves those directories with the test server.
#
# integrations/ is its own Cargo workspace (own Cargo.lock and target/), so the root
# workspace's clippy and tests never compile Leptos or Yew. Idempotent: when nothing changed,
# cargo finds everything fresh and the bindgen step is skipped (a few seconds in all).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$ROOT/target/toolchain.env" ]; then
  # shellcheck disable=SC1091
  source "$ROOT/target/toolchain.env"
else
  # shellcheck source=lib.sh
  source "$ROOT/scripts/lib.sh"
  ensure_setup
fi

WS="$ROOT/integrations"
OUT="$ROOT/target/example-apps"
TARGET=wasm32-unknown-unknown
APPS=(leptos-ticker yew-chat)
start=$SECONDS
step() { echo "[build-examples] $*"; }

# The wasm-bindgen CLI (installed by setup.sh at the root Cargo.lock's version) must be exactly
# the version of the crate in integrations/Cargo.lock: move the lock to it when they differ.
locked() { grep -A1 '^name = "wasm-bindgen"$' "$WS/Cargo.lock" | sed -n 's/^version = "\(.*\)"$/\1/p'; }
cli=$(wasm-bindgen --version | awk '{print $2}')
if [ "$(locked)" != "$cli" ]; then
  step "integrations/Cargo.lock has wasm-bindgen $(locked), the CLI is $cli: cargo update --precise $cli"
  (cd "$WS" && cargo update -q -p wasm-bindgen --precise "$cli")
fi
if [ "$(locked)" != "$cli" ]; then
  echo "[build-examples] wasm-bindgen CLI $cli does not match $(locked) in integrations/Cargo.lock" >&2
  exit 1
fi

cd "$WS"
step "cargo fmt --check (integrations workspace)"
# Not --all, which would also check the path dependency `resocket` (the root's rustfmt layer does).
cargo fmt -p resocket-leptos -p resocket-yew "${APPS[@]/#/-p=}" -- --check
# --release: the proc macros and build scripts (compiled for the host) are then the same
# artifacts the release build below uses, instead of a second, debug set.
step "cargo clippy --release --target $TARGET -- -D warnings (integrations workspace)"
t=$SECONDS
cargo clippy -q --release --workspace --target "$TARGET" -- -D warnings
step "  clippy clean ($((SECONDS - t))s)"
step "cargo build --release --target $TARGET (${APPS[*]})"
t=$SECONDS
cargo build -q --release --target "$TARGET" "${APPS[@]/#/-p=}"
step "  built ($((SECONDS - t))s)"

for app in "${APPS[@]}"; do
  wasm="$WS/target/$TARGET/release/$app.wasm"
  dist="$OUT/$app"
  html="$ROOT/examples/$app/index.html"
  if [ -f "$dist/app_bg.wasm" ] && [ "$dist/app_bg.wasm" -nt "$wasm" ] &&
     cmp -s "$html" "$dist/index.html"; then
    step "$app: up to date ($dist)"
    continue
  fi
  t=$SECONDS
  rm -rf "$dist.tmp"
  mkdir -p "$dist.tmp"
  wasm-bindgen --target web --no-typescript --out-dir "$dist.tmp" --out-name app "$wasm"
  if command -v wasm-opt >/dev/null; then
    wasm-opt -Os --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$dist.tmp/app_bg.wasm" -o "$dist.tmp/app_bg.wasm"
  fi
  cp "$html" "$dist.tmp/index.html"
  rm -rf "$dist"
  mv "$dist.tmp" "$dist"
  step "$app: $(du -k "$dist/app_bg.wasm" | cut -f1) KiB wasm -> $dist ($((SECONDS - t))s)"
done
step "done in $((SECONDS - start))s"
