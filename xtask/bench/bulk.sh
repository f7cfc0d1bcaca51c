#!/usr/bin/env bash
# Bulk create against single creates: 1,000 data points as one POST with a JSON list, and as
# 1,000 POSTs one after the other on one keep-alive connection, on a SQLite project and on a
# PostgreSQL project (the machine's cluster, a database created by `project create` and dropped
# at the end), alternating, ROUNDS times; authentication off. Prints the median time of each
# and the rows per second.
#
#   xtask/bench/bulk.sh [ROWS=1000] [ROUNDS=3]
#
# State lives under /tmp/tenantapi-bench-bulk; the server (release build) runs on :8000.
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-1000}
rounds=${2:-3}
server_url=${TENANTAPI_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
database=tenantapi_bench_bulk
work=/tmp/tenantapi-bench-bulk
rm -rf "$work" && mkdir -p "$work"
drop_database() { psql -X -q "$server_url/postgres" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true; }
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; drop_database; }
trap cleanup EXIT

cargo build --release -q -p tenantapi-server
drop_database
export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
target/release/tenantapi project create lite --database-url "$work/lite.db" >/dev/null
target/release/tenantapi project create pg --database-url "$server_url/$database" >/dev/null
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn target/release/tenantapi serve --bind 127.0.0.1:8000 2> "$work/server.log" &
server_pid=$!
until curl -fs -o /dev/null http://127.0.0.1:8000/healthz; do sleep 0.1; done

python3 - "$rows" "$rounds" <<'PY'
import http.client, json, statistics, sys, time
rows, rounds = int(sys.argv[1]), int(sys.argv[2])
connection = http.client.HTTPConnection("127.0.0.1", 8000)
serial = 0
def post(project, body):
    connection.request("POST", f"/api/v1/{project}/data_point/", body=json.dumps(body),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    assert response.status == 201, response.status
def batch():
    global serial
    serial += 1
    return [{"name": f"r{serial}-{n}", "unit": "kWh"} for n in range(rows)]
times = {}
for _ in range(rounds):
    for project in ("lite", "pg"):
        items = batch()
        started = time.perf_counter()
        for item in items:
            post(project, item)
        times.setdefault((project, "single"), []).append(time.perf_counter() - started)
        items = batch()
        started = time.perf_counter()
        post(project, items)
        times.setdefault((project, "bulk"), []).append(time.perf_counter() - started)
print(f"| backend | {rows} single POSTs: median s | rows/s | one bulk POST of {rows}: median s | rows/s | bulk / single |")
print("|---|---:|---:|---:|---:|---:|")
for project, name in (("lite", "SQLite"), ("pg", "PostgreSQL")):
    single = statistics.median(times[(project, "single")])
    bulk = statistics.median(times[(project, "bulk")])
    print(f"| {name} | {single:.3f} | {rows / single:,.0f} | {bulk:.3f} | {rows / bulk:,.0f} | {single / bulk:.1f}x faster |")
PY
