#!/usr/bin/env bash
# Builds and runs Calbridge on http://localhost:3000 with the embedded
# SQLite database under data/ and the demo accounts. Installs whatever is
# missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install.sh

step "building"
cargo leptos build

step "starting Calbridge on http://localhost:3000"
exec "$CARGO_TARGET_DIR/debug/calbridge" serve --seed-demo "$@"
