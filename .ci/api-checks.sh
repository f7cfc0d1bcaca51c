#!/usr/bin/env bash
# The API's documentation checked from outside, against the demo server: the OpenAPI documents
# validate as OpenAPI 3.1; schemathesis fuzzes every operation (0 server errors, 0 responses
# that break the document); a client generated from the document lists, creates and deletes a
# row; the docs page works in a real headless browser. Installs its own tools (pinned Python
# packages in target/ci-python, Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/ci-python
if ! cmp -s .ci/api/requirements.txt "$venv/requirements.txt" 2>/dev/null; then
  echo "api-checks: installing .ci/api/requirements.txt into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r .ci/api/requirements.txt
  cp .ci/api/requirements.txt "$venv/requirements.txt"
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "api-checks: installing Debian's chromium"
  apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi

echo "api-checks: validating the generated OpenAPI documents"
"$venv/bin/openapi-spec-validator" crates/generated/openapi.json tests/realworld/generated/openapi.json

cargo build --quiet -p tenantapi-server --bin tenantapi
work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"${CARGO_TARGET_DIR:-target}/debug/tenantapi" demo --data-dir "$work/demo" --bind "127.0.0.1:$port" >"$work/demo.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do
  curl -sf "$base/healthz" >/dev/null && break
  sleep 0.5
done
token=$(grep -o 'tap_[0-9a-f]*' "$work/demo.log" | head -n 1)
[ -n "$token" ] || { cat "$work/demo.log"; echo "api-checks: the demo printed no token"; exit 1; }

echo "api-checks: schemathesis against $base (every operation, positive and negative data)"
set +e
"$venv/bin/schemathesis" --config-file .ci/api/schemathesis.toml run "$base/api/v1/schema/" \
  --url "$base/api/v1" -H "Authorization: Token $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --mode all --max-examples 50 --seed 20261126 --workers 1 --no-color >"$work/schemathesis.log" 2>&1
status=$?
set -e
sed -n '/SUMMARY/,$p' "$work/schemathesis.log"
if [ "$status" -ne 0 ]; then
  cat "$work/schemathesis.log"
  echo "api-checks: schemathesis found failures"
  exit 1
fi
cases=$(grep -Eo '[0-9]+ generated' "$work/schemathesis.log" | tail -n 1 | grep -Eo '[0-9]+')
if [ "${cases:-0}" -lt 2000 ]; then
  echo "api-checks: schemathesis generated only ${cases:-0} test cases, fewer than 2,000"
  exit 1
fi

echo "api-checks: a client generated from the document"
"$venv/bin/openapi-python-client" generate --url "$base/api/v1/schema/" \
  --config .ci/api/client-config.yml --output-path "$work/client" >"$work/client.log" 2>&1 \
  || { cat "$work/client.log"; exit 1; }
"$venv/bin/python" .ci/api/client_smoke.py "$work/client" "$base" "$token" acme

echo "api-checks: the docs page in headless chromium"
tables=$(curl -sf -H "Authorization: Token $token" "$base/api/v1/acme/" \
  | python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin)))')
# shellcheck disable=SC2086
"$venv/bin/python" .ci/api/docs_page.py "$base" "$token" acme $tables
echo "api-checks: all passed"
