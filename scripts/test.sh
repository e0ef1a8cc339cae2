#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, the Rust suites on SQLite and
# PostgreSQL, and the Playwright suite in Chromium against the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
step() { printf '\n\033[1;35m== %s\033[0m\n' "$*"; }

step "PostgreSQL"
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting the local PostgreSQL cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
export PURPLE_CROSS_TEST_POSTGRES=${PURPLE_CROSS_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}

step "format"
cargo fmt --all --check

step "stylance"
stylance app

step "clippy"
cargo clippy -p purple-cross-domain -p server -p app --all-targets --features app/ssr -- -D warnings

step "Rust tests (SQLite and PostgreSQL)"
cargo test -p purple-cross-domain -p server

step "release build (server + WASM)"
cargo leptos build --release

step "Playwright (Chromium)"
cd end2end
npx playwright test
