#!/usr/bin/env bash
# Builds the release binary and the hydrated site (target/site).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
stylance app
cargo leptos build --release --precompress
bash scripts/regzip.sh
