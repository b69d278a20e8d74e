#!/usr/bin/env bash
# Installs what building, running and testing Calbridge needs, and skips
# whatever is already there. Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

CARGO_LEPTOS_VERSION=0.3.10   # 0.3.11 needs a newer rustc than this machine has

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes ~25 minutes on 2 cores)"
  # no_downloads: cargo-leptos must not fetch tools at run time (no internet here).
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

# The CLI must match the wasm-bindgen crate in Cargo.lock exactly;
# cargo-leptos does not check, and a mismatch fails at run time.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $WASM_BINDGEN_VERSION"; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

apt_packages=()
command -v chromium >/dev/null || apt_packages+=(chromium)
command -v wasm-opt >/dev/null || apt_packages+=(binaryen)
[ -x /usr/lib/postgresql/15/bin/postgres ] || apt_packages+=(postgresql-15)
command -v npm >/dev/null || apt_packages+=(nodejs npm)
if [ ${#apt_packages[@]} -gt 0 ]; then
  step "installing Debian packages: ${apt_packages[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${apt_packages[@]}"
fi

# npm ci only when the lock file changed since the last install.
stamp=end2end/node_modules/.installed-from-lock
if ! cmp -s end2end/package-lock.json "$stamp" 2>/dev/null; then
  step "installing the end2end npm packages"
  (cd end2end && npm ci --no-audit --no-fund --ignore-scripts)
  cp end2end/package-lock.json "$stamp"
fi
