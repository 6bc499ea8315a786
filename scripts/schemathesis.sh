#!/usr/bin/env bash
# Fuzzes the contract: a live `keyway serve --demo` on a fresh database, schemathesis (PyPI) against its own
# /openapi.yaml, every operation, with the demo's all-scope key. Fails on any 5xx, any response that breaks
# the document (schema, status code, content type).
#   scripts/schemathesis.sh [path/to/keyway] [max examples per operation] [postgres://... URL]
# With a PostgreSQL URL the server runs on a fresh schema of that database (made and dropped with psql)
# instead of a SQLite file.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-.build/debug/keyway}"
examples="${2:-30}"
postgres_url="${3:-}"
folder="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
schema=""
cleanup() {
  if [ -n "${server:-}" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ -n "$schema" ]; then psql "$postgres_url" -q -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$folder"
}
trap cleanup EXIT
if [ -n "$postgres_url" ]; then
  schema="fuzz_$$_$port"
  psql "$postgres_url" -q -c "CREATE SCHEMA $schema"
  separator="?"
  case "$postgres_url" in *\?*) separator="&" ;; esac
  database=(--database-url "$postgres_url${separator}schema=$schema")
else
  database=(--database "$folder/fuzz.sqlite")
fi
"$binary" serve --demo --port "$port" "${database[@]}" --log-level warning >"$folder/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  grep -q "Keyway listening on" "$folder/server.log" && break
  sleep 0.2
done
key="$(grep -m1 '^kw_' "$folder/server.log")"
# The phases that generate cases (coverage, fuzzing, stateful). Its "examples" phase is left out:
# schemathesis 4.32.5 on Python 3.11 crashes inside itself there (a KeyError over its own source, then
# "AST constructor recursion depth mismatch") while drawing PUT /v2/shares/{id}, every run, with all
# cases passing. The same crash now and then hits another phase at random; a run that failed only by such a
# "Runtime Error" of the tool (no check failed) is run again, up to three times in all. A failed check always fails.
run_fuzzer() {
  st run "http://127.0.0.1:$port/openapi.yaml" \
    --phases coverage,fuzzing,stateful \
    -H "Authorization: Bearer $key" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples "$examples" -w 2 --request-timeout 10
}
for attempt in 1 2 3; do
  if run_fuzzer >"$folder/fuzz.log" 2>&1; then
    tail -40 "$folder/fuzz.log"
    exit 0
  fi
  if [ "$attempt" -lt 3 ] && grep -q "Runtime Error" "$folder/fuzz.log" \
    && ! grep -qE "FAILURES|Failures:" "$folder/fuzz.log"; then
    echo "schemathesis crashed inside itself (no check failed); running it once more:"
    grep -m3 -E "Runtime Error|SystemError|KeyError: \('" "$folder/fuzz.log" | cut -c1-160
    continue
  fi
  cat "$folder/fuzz.log"
  exit 1
done
