#!/usr/bin/env bash
# `npm start`: setup, build the npm package into pkg/, bundle www/ with webpack, and serve the
# live dashboard with the embedded server on http://127.0.0.1:8080 (PORT or RESOCKET_PORT to change).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_setup
bash "$ROOT/scripts/build.sh"
PORT="${RESOCKET_PORT:-${PORT:-8080}}"
trap stop_server EXIT INT TERM
# The Yew and Leptos example apps too, when `npm test` (scripts/build-examples.sh) built them.
EXTRA=()
for mount in leptos=leptos-ticker yew=yew-chat; do
  app="${mount#*=}"
  if [ -f "$ROOT/target/example-apps/$app/index.html" ]; then
    EXTRA+=(--static "/${mount%%=*}=$ROOT/target/example-apps/$app")
  fi
done
start_server "$PORT" --static "/=$ROOT/www/dist" --static "/pkg=$ROOT/pkg" "${EXTRA[@]}"
echo
echo "  resocket live dashboard: http://127.0.0.1:$SERVER_PORT/"
for ((i = 1; i < ${#EXTRA[@]}; i += 2)); do
  echo "  example app:             http://127.0.0.1:$SERVER_PORT${EXTRA[i]%%=*}/"
done
echo "  (Ctrl+C to stop)"
wait "$SERVER_PID"
