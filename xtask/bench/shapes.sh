#!/usr/bin/env bash
# Memory under distinct query shapes: 20,000 list requests, each a different combination of
# filters and ordering (so a different SQL text), against one SQLite and one PostgreSQL project;
# the server's resident memory (and, on PostgreSQL, its backends') before and after, and the
# throughput of one repeated shape before and after, in one run. Runs twice: with the default
# bound on each connection's prepared statements (`pool.max_cached_statements` = 100) and with
# the bound lifted (what the server did before it existed), for reference.
#
#   xtask/bench/shapes.sh [SHAPES=20000]
#
# Uses ../shared/peers's throwaway cluster on 127.0.0.1:55432 (PEERS_DIR to override); our
# server (release build, authentication off) runs on :8000. State lives under
# /tmp/tenantapi-bench/shapes; everything started is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
source xtask/bench/common.sh
shapes=${1:-20000}
work=/tmp/tenantapi-bench/shapes
mkdir -p "$work"
bench_stop_server_on_exit "$work"
bench_load_tools
cargo build --release -q -p tenantapi-server
"$root/xtask/bench/prepare-postgres.sh" "$port"

# The SQLite project: the same structure and 10,000 rows.
rm -f "$work"/sqlite.db*
python3 - crates/generated/src/ddl.rs crates/generated/src/lib.rs "$work/sqlite.db" <<'PY'
import json, re, sqlite3, sys
ddl = json.loads(re.search(r'pub const SQLITE: &str = (".*?");\n', open(sys.argv[1]).read(), re.S).group(1))
version = re.search(r'SCHEMA_VERSION: &str = "([^"]*)"', open(sys.argv[2]).read()).group(1)
db = sqlite3.connect(sys.argv[3])
db.executescript(ddl)
db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
db.executemany("INSERT INTO data_point (name, unit) VALUES (?, ?)",
               [(f"dp-{i:05}", "kWh" if i % 2 else None) for i in range(1, 10001)])
db.commit()
PY

# The distinct shapes: ordered choices of three filters, times orderings.
python3 - "$shapes" > "$work/paths.txt" <<'PY'
import itertools, sys
filters = ["id__gt=5", "id__lt=9000", "name__startswith=dp", "unit__isnull=false", "unit=kWh",
           "site_id__isnull=true", "name__contains=0", "id__gte=1", "id__lte=9999",
           "name__icontains=DP", "type=measured", "name__endswith=7"]
orderings = ["id", "-id", "name", "-name", "unit,id", "-unit,id", "type,-id", "name,unit",
             "-name,unit", "unit,-name"]
count = 0
for chosen in itertools.permutations(filters, 3):
    for ordering in orderings:
        print("&".join(chosen) + f"&ordering={ordering}&page_size=5")
        count += 1
        if count == int(sys.argv[1]):
            sys.exit()
PY

rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
backends_rss_kib() {
  local total=0 pid
  for pid in $("${psql_cluster[@]}" -d postgres -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = 'tenantapi'"); do
    total=$(( total + $(rss_kib "$pid" 2>/dev/null || echo 0) ))
  done
  echo "$total"
}
repeated_rps() {
  wrk -t2 -c8 -d5s "http://127.0.0.1:8000/api/v1/$1/data_point/?name__startswith=dp-1&ordering=-id&page_size=5" \
    | awk '/Requests\/sec/ { print $2 }'
}
send_shapes() {
  python3 - "$1" "$work/paths.txt" <<'PY'
import http.client, sys, threading
project, paths = sys.argv[1], open(sys.argv[2]).read().split()
failures = []
def client(part):
    connection = http.client.HTTPConnection("127.0.0.1", 8000)
    for path in part:
        connection.request("GET", f"/api/v1/{project}/data_point/?{path}")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            failures.append((response.status, path))
threads = [threading.Thread(target=client, args=(paths[i::4],)) for i in range(4)]
for thread in threads: thread.start()
for thread in threads: thread.join()
if failures:
    sys.exit(f"{len(failures)} requests failed, e.g. {failures[0]}")
PY
}

rows=()
for bound in 100 1000000000; do
  rm -f "$work/platform.db"
  export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
  target/release/tenantapi project add lite --database-url "$work/sqlite.db" >/dev/null
  target/release/tenantapi project add pg --database-url "postgres://postgres@127.0.0.1:$port/tenantapi_bench" >/dev/null
  TENANTAPI_AUTH_REQUIRED=false TENANTAPI_POOL_MAX_CACHED_STATEMENTS=$bound RUST_LOG=warn \
    target/release/tenantapi serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
  echo $! > "$work/server.pid"
  server=$(cat "$work/server.pid")
  for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/lite/data_point/1/ && break; sleep 0.1; done
  for project in lite pg; do
    rps_before=$(repeated_rps "$project")
    rss_before=$(rss_kib "$server")
    backends_before=$(backends_rss_kib)
    started=$(date +%s.%N)
    send_shapes "$project"
    seconds=$(echo "$(date +%s.%N) - $started" | bc)
    rss_after=$(rss_kib "$server")
    backends_after=$(backends_rss_kib)
    rps_after=$(repeated_rps "$project")
    label=$([ "$bound" = 100 ] && echo "100 (default)" || echo "none")
    backend=$([ "$project" = lite ] && echo SQLite || echo PostgreSQL)
    backend_cells="n/a | n/a"
    if [ "$project" = pg ]; then
      backend_cells="$((backends_before / 1024)) | $((backends_after / 1024))"
    fi
    rows+=("| $label | $backend | $((rss_before / 1024)) | $((rss_after / 1024)) | $(( (rss_after - rss_before) / 1024 )) | $backend_cells | $(printf %.1f "$seconds") | $rps_before | $rps_after |")
  done
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -f "$work/server.pid"
done

echo
echo "## $shapes distinct query shapes (3 of 12 filters in order x 10 orderings), 4 keep-alive clients"
echo
echo "| statement bound | backend | server RSS before MiB | after MiB | growth MiB | PG backends RSS before MiB | after MiB | shapes took s | repeated shape req/s before | after |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
