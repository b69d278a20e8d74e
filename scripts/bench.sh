#!/usr/bin/env bash
# The benchmark report (issue #8): runs every benchmark in release mode,
# prints each figure against its target, writes the summary between the
# `bench:begin`/`bench:end` marks of the README, and exits non-zero when
# a figure misses. Not part of the test command: the first run compiles
# everything in release mode (tens of minutes on 2 cores), and the whole
# report takes a few minutes more.
#
#   scripts/bench.sh            # everything
#   scripts/bench.sh --no-readme  # print only
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
update_readme=true
[[ "${1:-}" == "--no-readme" ]] && update_readme=false

scripts/install.sh >/dev/null || exit 1
log=$(mktemp)
missed=0

# Runs a benchmark command, keeps the lines it prints with figures.
bench() {
  local what=$1
  shift
  step "$what: $*"
  # Cargo's "Compiling …" lines are not figures (crate names such as
  # sea-orm-migration hold "ratio").
  "$@" 2>&1 | tee -a "$log.raw" | grep -v '^ *Compiling ' |
    grep -E ' ms|MISSED|ratio|KB|MB|calls/s' | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  if [[ $rc -ne 0 ]]; then
    echo "$what: MISSED or failed (exit $rc)" | tee -a "$log"
    missed=1
  fi
}

bench "30-day availability" cargo bench --locked -p backend --bench availability
bench "booking -> event latency, bulk sync vs the throttle bound" \
  cargo bench --locked -p backend --bench sync_throughput
bench "room -> space latency" \
  cargo bench --locked -p server --features app/ssr --bench room_latency
bench "settings and status server fns, 100 clients" \
  cargo bench --locked -p server --features app/ssr --bench server_fns
bench "memory of the calbridge process" \
  cargo bench --locked -p server --features app/ssr --bench memory

step "wasm size: release build of the site (each island split off), wasm-opt, gzip -9"
# The release wasm replaces the debug one in the site directory; the
# debug site is built again afterwards for the tests and `scripts/run.sh`.
if cargo leptos build --release --frontend-only --split >"$log.wasm" 2>&1; then
  python3 scripts/wasm_size.py "$CALBRIDGE_SITE_ROOT/pkg" 250 | tee "$log.wasm.sizes" || missed=1
  grep '^wasm:' "$log.wasm.sizes" >>"$log"
else
  tail -20 "$log.wasm"
  echo "wasm: the release build failed" | tee -a "$log"
  missed=1
fi
cargo leptos build --frontend-only --split >/dev/null 2>&1 ||
  echo "note: rebuild the debug site with cargo leptos build --split"

step "summary"
cat "$log"
if $update_readme; then
  python3 - "$log" <<'EOF'
import sys, datetime
summary = open(sys.argv[1]).read().strip()
readme = open("README.md").read()
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
i, j = readme.index(begin) + len(begin), readme.index(end)
stamp = datetime.date.today().isoformat()
block = f"\nLast run {stamp} (`scripts/bench.sh`):\n\n```text\n{summary}\n```\n"
open("README.md", "w").write(readme[:i] + block + readme[j:])
EOF
  echo "README.md updated"
fi
rm -f "$log" "$log.raw" "$log.wasm" "$log.wasm.sizes"
exit $missed
