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

# Every generated document, validated as OpenAPI 3.1 (not by the version the file claims).
echo "api-checks: validating the generated OpenAPI documents as OpenAPI 3.1"
# (crates/generated/src/previous/*/openapi.json: the older structure versions still served.)
"$venv/bin/openapi-spec-validator" --schema 3.1 crates/generated/openapi.json \
  crates/generated/src/previous/*/openapi.json \
  tests/realworld/generated/openapi.json crates/codegen/tests/fixtures/*/expected/openapi.json

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
ready=""
for _ in $(seq 1 60); do
  if curl -sf "$base/healthz" >/dev/null; then ready=1; break; fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$ready" ]; then
  cat "$work/demo.log"
  echo "api-checks: the demo server did not answer $base/healthz within 30 s"
  exit 1
fi
token=$(grep -o 'tap_[0-9a-f]*' "$work/demo.log" | head -n 1 || true)
[ -n "$token" ] || { cat "$work/demo.log"; echo "api-checks: the demo printed no token (tap_...)"; exit 1; }

# The document as served: the generated one (same paths), valid OpenAPI 3.1 as JSON and as the
# YAML it is served as (`?format=yaml`, `Accept: application/yaml`), both read by a YAML parser.
echo "api-checks: validating the served document (JSON and YAML) as OpenAPI 3.1"
curl -sf "$base/api/v1/schema/" -o "$work/served.json"
curl -sf "$base/api/v1/schema/?format=yaml" -o "$work/served-format.yaml"
curl -sf -H "Accept: application/yaml" "$base/api/v1/schema/" -o "$work/served-accept.yaml"
"$venv/bin/python" - "$work/served.json" "$work/served-format.yaml" "$work/served-accept.yaml" \
  crates/generated/openapi.json <<'PY'
import json, sys
import yaml
served, by_format, by_accept, generated = sys.argv[1:]
document = json.load(open(served))
for name in (by_format, by_accept):
    assert yaml.safe_load(open(name)) == document, f"{name} is not the document as YAML"
assert document["paths"] == json.load(open(generated))["paths"], "the server serves other paths"
print(f"api-checks: served document: {len(document['paths'])} paths, YAML forms identical")
PY
"$venv/bin/openapi-spec-validator" --schema 3.1 "$work/served.json" "$work/served-format.yaml" \
  "$work/served-accept.yaml"

# Each older served version's document (`?version=V`), as served: valid OpenAPI 3.1, its own
# version and the paths generated for it.
for generated in crates/generated/src/previous/*/openapi.json; do
  version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["info"]["version"])' "$generated")
  curl -sf "$base/api/v1/schema/?version=$version" -o "$work/served-$version.json"
  "$venv/bin/python" - "$work/served-$version.json" "$generated" "$version" <<'PY'
import json, sys
served, generated, version = sys.argv[1:]
document = json.load(open(served))
assert document["info"]["version"] == version, document["info"]
assert document["paths"] == json.load(open(generated))["paths"], "other paths than generated"
print(f"api-checks: served document of version {version}: {len(document['paths'])} paths")
PY
  "$venv/bin/openapi-spec-validator" --schema 3.1 "$work/served-$version.json"
done

echo "api-checks: schemathesis against $base (every operation, positive and negative data)"
set +e
"$venv/bin/schemathesis" --config-file .ci/api/schemathesis.toml run "$base/api/v1/schema/" \
  --url "$base/api/v1" -H "Authorization: Token $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method,allow_header_conformance \
  --mode all --max-examples 50 --seed 20261126 --workers 1 --no-color \
  --report har --report-har-path "$work/schemathesis.har" >"$work/schemathesis.log" 2>&1
status=$?
set -e
sed -n '/SUMMARY/,$p' "$work/schemathesis.log"
if [ "$status" -ne 0 ]; then
  cat "$work/schemathesis.log"
  echo "api-checks: schemathesis found failures"
  exit 1
fi
# Requests counted from the HAR report (every request schemathesis sent, with its answer), not
# from the summary's test cases.
"$venv/bin/python" - "$work/schemathesis.har" "$work/schemathesis.log" <<'PY'
import json, re, sys
har, log = sys.argv[1:]
entries = json.load(open(har))["log"]["entries"]
statuses = [entry["response"]["status"] for entry in entries]
server_errors = sum(1 for status in statuses if status >= 500)
text = open(log).read()
tested = re.search(r"Tested: *(\d+)", text)
cases = re.search(r"(\d+) generated", text)
print(
    f"api-checks: schemathesis sent {len(entries)} requests "
    f"({len(set(statuses))} statuses: {sorted(set(statuses))}), "
    f"{tested.group(1) if tested else '?'} operations, "
    f"{cases.group(1) if cases else '?'} test cases, {server_errors} server errors"
)
if server_errors:
    sys.exit("api-checks: schemathesis saw server errors")
if len(entries) < 2000:
    sys.exit(f"api-checks: schemathesis sent only {len(entries)} requests, fewer than 2,000")
PY

echo "api-checks: a client generated from the document"
"$venv/bin/openapi-python-client" generate --url "$base/api/v1/schema/" \
  --config .ci/api/client-config.yml --output-path "$work/client" >"$work/client.log" 2>&1 \
  || { cat "$work/client.log"; exit 1; }
"$venv/bin/python" .ci/api/client_smoke.py "$work/client" "$base" "$token" acme

echo "api-checks: the docs page in headless chromium"
tables=$(curl -sf -H "Authorization: Token $token" "$base/api/v1/acme/" \
  | python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin)))' || true)
[ -n "$tables" ] || { echo "api-checks: GET /api/v1/acme/ listed no tables (expected the demo's)"; exit 1; }
# shellcheck disable=SC2086
"$venv/bin/python" .ci/api/docs_page.py "$base" "$token" acme $tables
echo "api-checks: all passed"
