# Sourced by the other scripts: one build environment for every cargo call,
# so nothing is compiled twice.
export PATH="$HOME/.cargo/bin:$PATH"
# The build cache lives outside the checkout, so fresh clones (CI) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/calbridge/target}"
# Where cargo-leptos writes the site (JS, wasm, CSS) for the server to serve.
export CALBRIDGE_SITE_ROOT="${CALBRIDGE_SITE_ROOT:-$PWD/target/site}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> %s\n' "$*"; }
