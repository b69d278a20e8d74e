# Sourced by the other scripts: one build environment for every cargo call,
# so nothing is compiled twice.
export PATH="$HOME/.cargo/bin:$PATH"
# The build cache lives outside the checkout, so fresh clones (CI) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/calbridge/target}"
# Where cargo-leptos writes the site (JS, wasm, CSS) for the server to serve.
export CALBRIDGE_SITE_ROOT="${CALBRIDGE_SITE_ROOT:-$PWD/target/site}"
# Leptos reads this when it is compiled (the name of the JS/wasm files the
# page loads). cargo-leptos sets it; plain cargo calls must set it too, or
# they compile Leptos differently — a rebuild, and a page that loads a
# wasm file that does not exist.
export LEPTOS_OUTPUT_NAME=calbridge
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> %s\n' "$*"; }
