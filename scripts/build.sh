#!/usr/bin/env bash
# Builds the release binary and the hydrated site (target/site).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
stylance app
cargo leptos build --release --precompress
# cargo-leptos left the WASM unoptimised, with its names (Cargo.toml's
# wasm-opt-features): trap the hydration code nothing calls, then optimise.
wasm=target/site/pkg/purple-cross.wasm
python3 scripts/wasm-trim.py "$wasm"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$wasm" -o "$wasm"
bash scripts/regzip.sh
