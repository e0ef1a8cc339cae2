#!/usr/bin/env bash
# Installs what building and testing need, from the package registries only.
# Idempotent: a second run checks versions and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.11
STYLANCE_VERSION=0.8.4
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1;35m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

command -v chromium >/dev/null || { log "installing Debian's chromium"; apt_install chromium; }
command -v zopfli >/dev/null || { log "installing zopfli (gzips the WASM)"; apt_install zopfli; }
command -v brotli >/dev/null || { log "installing brotli (compresses the WASM)"; apt_install brotli; }
command -v npm >/dev/null || { log "installing node and npm"; apt_install nodejs npm; }
command -v cc >/dev/null || { log "installing a C compiler"; apt_install build-essential; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32 target"
  if ! rustup target add wasm32-unknown-unknown; then
    echo "rustup could not download the wasm32 target. Install Debian's route instead:" >&2
    echo "  apt-get install rustc-web cargo-web rust-web-src lld-19  (see README, 'WASM toolchain')" >&2
    exit 1
  fi
fi

have_version() { # tool, expected version: true when `tool --version` prints it
  command -v "$1" >/dev/null && "$1" --version 2>/dev/null | grep -q -- "$2"
}

if ! have_version cargo-leptos "$CARGO_LEPTOS_VERSION"; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes on 2 cores)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads --ignore-rust-version
fi

# wasm-bindgen's CLI must equal the library version in Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock 2>/dev/null || true)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}
if ! have_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lockfile pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if ! have_version stylance "$STYLANCE_VERSION"; then
  log "installing stylance-cli $STYLANCE_VERSION"
  cargo install stylance-cli --version "$STYLANCE_VERSION" --locked
fi

# Tailwind and wasm-opt come from npm (Debian's binaryen 108 breaks hydration).
if [ ! -x node_modules/.bin/tailwindcss ] || [ ! -x node_modules/.bin/wasm-opt ] || [ package-lock.json -nt node_modules/.stamp ]; then
  log "installing npm build tools"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.stamp
fi
if [ ! -d end2end/node_modules/@playwright ] || [ end2end/package-lock.json -nt end2end/node_modules/.stamp ]; then
  log "installing Playwright (no browser download: Debian's chromium is used)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
fi
log "toolchain ready"
