#!/usr/bin/env bash
# Runs every check and test of Calbridge. The README's test command, and
# what CI runs. Installs whatever is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
started=$SECONDS

scripts/install.sh

step "formatting"
cargo fmt --all --check

step "clippy: server side"
cargo clippy --locked -p app -p server -p backend -p migrations -p emulator \
  --features app/ssr --all-targets -- -D warnings
step "clippy: browser side"
cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings

step "build (cargo leptos build: server binary + wasm site; the emulator binary)"
cargo leptos build --split
cargo build --locked -p emulator

step "PostgreSQL for the integration tests"
CALBRIDGE_TEST_POSTGRES_URL="$(scripts/postgres.sh)"
export CALBRIDGE_TEST_POSTGRES_URL

step "unit and integration tests (SQLite and PostgreSQL)"
cargo test --locked -p app --features app/ssr -p backend -p migrations -p emulator
# One test at a time: each test starts a whole Calbridge server, and
# several Leptos servers in one process occasionally stall a request
# (a production process runs one). See the note in server/tests/support.
cargo test --locked -p server --features app/ssr -- --test-threads=1

step "browser tests (Playwright, Debian Chromium, with and without JavaScript)"
(
  cd end2end
  CALBRIDGE_BIN="$CARGO_TARGET_DIR/debug/calbridge" \
    EMULATOR_BIN="$CARGO_TARGET_DIR/debug/emulator" \
    npx playwright test
)

step "all checks passed in $((SECONDS - started)) s"
