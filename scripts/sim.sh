#!/usr/bin/env bash
# `npm run sim [steps]`: the reconnect machine's deterministic simulators (src/sim.rs, and
# src/sim/resume.rs for the resume protocol's client side) for as many simulated steps each as asked (default 10 million; also SIM_STEPS), in a release build. It prints the
# steps, seeds and steps per second; a violation prints its seed and a shrunk schedule, and
# `SIM_SEED=<seed> npm run sim` replays it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_setup
export SIM_STEPS="${1:-${SIM_STEPS:-10000000}}"
echo "[sim] $SIM_STEPS simulated steps (release build)"
cargo test -q --release -p resocket --lib many -- --ignored --nocapture --test-threads=1
