#!/usr/bin/env bash
# Schemathesis against the release binary's own OpenAPI document: generated
# requests to every REST operation, checking that none gets a server error
# and that status codes and content types match what the document says; then
# stateful sequences along the links it infers from the document (create, then
# read, update, delete what was created), checking that what was created can
# be read and what was deleted is gone.
# SCHEMATHESIS_MAX_EXAMPLES (default 25) bounds the run; raise it by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/purple-cross
[ -x "$bin" ] || { echo "build first: cargo leptos build --release"; exit 1; }
venv=.tools/schemathesis
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
tmp=$(mktemp -d)
port=${SCHEMATHESIS_PORT:-3127}
export DATABASE_URL="sqlite://$tmp/st.db" PURPLE_CROSS_DATA_DIR="$tmp" PURPLE_CROSS_BIND="127.0.0.1:$port"
export PURPLE_CROSS_ALLOW_PRIVATE_TARGETS=127.0.0.0/8 LEPTOS_SITE_ROOT="$PWD/target/site"
key=$("$bin" keys create --name schemathesis --role admin | tail -1)
"$bin" serve >"$tmp/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --url "http://127.0.0.1:$port/api/v1" \
  -H "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,use_after_free,ensure_resource_availability \
  --phases examples,fuzzing,stateful \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
  --workers 2 \
  --seed 1 \
  --generation-database none \
  --no-color "$@"
