#!/usr/bin/env bash
# Two instances of the release binary on one PostgreSQL database and one Redis,
# for the cross-instance test (instances.spec.ts): A (role all) on port $1 takes
# events and delivers them; B (role api, no worker) on port $2 serves the
# browser, so B's pages can learn of A's work only through Redis.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release/purple-cross
tmp=$root/end2end/.tmp-instances
admin_url=${PURPLE_CROSS_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
db=pc_e2e_instances
rm -rf "$tmp" && mkdir -p "$tmp"
psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
export DATABASE_URL=${admin_url%/*}/$db PURPLE_CROSS_DATA_DIR=$tmp LEPTOS_SITE_ROOT=$root/target/site
export REDIS_URL=${PURPLE_CROSS_TEST_REDIS:-redis://127.0.0.1:6379}
export PURPLE_CROSS_ALLOW_PRIVATE_TARGETS=127.0.0.0/8 PURPLE_CROSS_TIMEZONE=Europe/London
# On PostgreSQL every instance is given the same master key.
PURPLE_CROSS_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export PURPLE_CROSS_MASTER_KEY
"$bin" users create --email admin@example.com --role admin --password 'correct horse battery'
"$bin" keys create --name e2e-instances --role admin | tail -n 1 > "$tmp/api-key"
PURPLE_CROSS_BIND=127.0.0.1:$1 PURPLE_CROSS_ROLE=all "$bin" serve > "$tmp/a.log" 2>&1 &
a=$!
PURPLE_CROSS_BIND=127.0.0.1:$2 PURPLE_CROSS_ROLE=api "$bin" serve > "$tmp/b.log" 2>&1 &
b=$!
trap 'kill $a $b 2>/dev/null || true' EXIT INT TERM
wait -n $a $b
