#!/usr/bin/env bash
# Builds and runs the Calbridge demo: Calbridge on http://localhost:3000
# (embedded SQLite under data/, demo accounts) and, beside it on another
# site, the Microsoft emulator on http://127.0.0.1:3900 with its demo
# tenant. Calbridge is pointed at the emulator instead of Microsoft.
# Installs whatever is missing first. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install.sh

step "building"
cargo leptos build --split
cargo build -p emulator

EMULATOR_PORT="${EMULATOR_PORT:-3900}"
step "starting the Microsoft emulator on http://127.0.0.1:$EMULATOR_PORT"
# The demo serves Calbridge over plain http on localhost, so the emulator
# must accept http notification URLs (Microsoft accepts https only).
"$CARGO_TARGET_DIR/debug/emulator" --port "$EMULATOR_PORT" --seed demo --allow-http-notifications &
emulator_pid=$!
trap 'kill $emulator_pid 2>/dev/null || true' EXIT

export CALBRIDGE_MICROSOFT_LOGIN_URL="${CALBRIDGE_MICROSOFT_LOGIN_URL:-http://127.0.0.1:$EMULATOR_PORT}"
export CALBRIDGE_MICROSOFT_GRAPH_URL="${CALBRIDGE_MICROSOFT_GRAPH_URL:-http://127.0.0.1:$EMULATOR_PORT/v1.0}"

step "starting Calbridge on http://localhost:3000"
"$CARGO_TARGET_DIR/debug/calbridge" serve --seed-demo "$@"
