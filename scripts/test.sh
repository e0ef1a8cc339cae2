#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, the Rust suites on SQLite and
# PostgreSQL (and Redis for the instance signals), and the Playwright suite in
# Chromium against the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
# Each step's header says how long the run has taken so far (where CI's time goes).
step() { printf '\n\033[1;35m== %s\033[0m  (at %dm%02ds)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

step "PostgreSQL"
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting the local PostgreSQL cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
export PURPLE_CROSS_TEST_POSTGRES=${PURPLE_CROSS_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}

step "Redis"
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  echo "starting a local Redis (it keeps nothing on disk)"
  command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes
  for _ in $(seq 30); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 1; done
fi
export PURPLE_CROSS_TEST_REDIS=${PURPLE_CROSS_TEST_REDIS:-redis://127.0.0.1:6379}

step "format"
cargo fmt --all --check

step "stylance"
stylance app

step "clippy (server)"
cargo clippy -p purple-cross-wire -p purple-cross-domain -p server -p app --all-targets --features app/ssr -- -D warnings

step "clippy (WASM front end)"
cargo clippy -p frontend -p app -p purple-cross-wire --features app/hydrate --target wasm32-unknown-unknown -- -D warnings

step "Rust tests (SQLite and PostgreSQL)"
cargo test --no-fail-fast -p purple-cross-wire -p purple-cross-domain -p server
cargo test -p app --features ssr --lib

step "release build (server + WASM)"
bash scripts/build.sh

step "WASM size (budget: 700 KB gzipped in all)"
python3 scripts/wasm-size.py --budget 700

step "Playwright (Chromium)"
cd end2end
npx playwright test
cd ..

step "Schemathesis (OpenAPI: no server errors, documented statuses, content types and response schemas)"
bash scripts/schemathesis.sh

step "done"
