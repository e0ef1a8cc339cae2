#!/usr/bin/env bash
# Runs the app on embedded SQLite at http://127.0.0.1:3000 (data in ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec target/release/purple-cross serve "$@"
