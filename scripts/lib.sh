# Shared by the npm scripts: the toolchain environment and the test server's lifecycle.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Makes the machine ready (idempotent, seconds when done) and loads the toolchain environment.
ensure_setup() {
  bash "$ROOT/scripts/setup.sh"
  # shellcheck disable=SC1091
  source "$ROOT/target/toolchain.env"
}

SERVER_PID=""
SERVER_PORT=""

# start_server PORT [extra flags...]: builds and starts the test server; sets SERVER_PORT.
start_server() {
  local port="$1"; shift
  local port_file="$ROOT/target/server.port"
  rm -f "$port_file"
  echo "[server] building resocket-server"
  cargo build -q --release -p resocket-server
  "$ROOT/target/release/resocket-server" --port "$port" --port-file "$port_file" "$@" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if [ -s "$port_file" ]; then SERVER_PORT="$(cat "$port_file")"; return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "[server] failed to start" >&2; return 1; fi
    sleep 0.1
  done
  echo "[server] did not report its port within 10 s" >&2
  return 1
}

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
