#!/usr/bin/env bash
# Fuzzes the contract: a live `keyway serve --demo` on a fresh database, schemathesis (PyPI) against its own
# /openapi.yaml, every operation, with the demo's all-scope key. Fails on any 5xx, any response that breaks
# the document (schema, status code, content type).
#   scripts/schemathesis.sh [path/to/keyway] [max examples per operation]
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-.build/debug/keyway}"
examples="${2:-30}"
folder="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$binary" serve --demo --port "$port" --database "$folder/fuzz.sqlite" --log-level warning >"$folder/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$folder"' EXIT
for _ in $(seq 1 100); do
  grep -q "Keyway listening on" "$folder/server.log" && break
  sleep 0.2
done
key="$(grep -m1 '^kw_' "$folder/server.log")"
# The phases that generate cases (coverage, fuzzing, stateful). Its "examples" phase is left out:
# schemathesis 4.32.5 on Python 3.11 crashes inside itself there (a KeyError over its own source, then
# "AST constructor recursion depth mismatch") while drawing PUT /v2/shares/{id}, every run, with all
# cases passing; a crash of the tool would fail CI without saying anything about Keyway.
st run "http://127.0.0.1:$port/openapi.yaml" \
  --phases coverage,fuzzing,stateful \
  -H "Authorization: Bearer $key" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --max-examples "$examples" -w 2 --request-timeout 10
