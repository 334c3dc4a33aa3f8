#!/usr/bin/env bash
# `npm start`: setup, build the npm package into pkg/, bundle www/ with webpack, and serve the
# live dashboard with the embedded server on http://127.0.0.1:8080 (PORT or RESOCKET_PORT to change).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_setup
bash "$ROOT/scripts/build.sh"
PORT="${RESOCKET_PORT:-${PORT:-8080}}"
trap stop_server EXIT INT TERM
start_server "$PORT" --static "/=$ROOT/www/dist" --static "/pkg=$ROOT/pkg"
echo
echo "  resocket live dashboard: http://127.0.0.1:$SERVER_PORT/"
echo "  (Ctrl+C to stop)"
wait "$SERVER_PID"
