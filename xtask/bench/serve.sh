#!/usr/bin/env bash
# Benchmark of the server: GET by id and the first list page (100 rows, with count), 32
# connections (and GET by id at 256), wrk on loopback, against a PostgreSQL project of 10,000 data_point rows; beside
# the Django REST Framework and Platformatic DB peers over the same rows on the same cluster,
# and `pgbench -S` (the floor the database itself sets), all in one run.
#
#   xtask/bench/serve.sh [DURATION=10] [CONNECTIONS=32]
#
# Uses ../shared/peers (PEERS_DIR to override): its throwaway cluster on 127.0.0.1:55432, its
# peers on :8001/:8002 and its bench.sh, which prints the markdown table. Our server runs on
# :8000. Everything it starts is stopped at the end; state lives under /tmp.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
duration=${1:-10}
connections=${2:-32}
peers=${PEERS_DIR:-$root/../shared/peers}
port=${PEER_PGPORT:-55432}
work=/tmp/tenantapi-bench
mkdir -p "$work"
psql_cluster=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)

cleanup() {
  [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true
  "$peers/drf/run.sh" stop >/dev/null 2>&1 || true
  "$peers/platformatic/run.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
"$peers/pg.sh" start

cargo build --release -q -p tenantapi-server
"$root/xtask/bench/prepare-postgres.sh" "$port"

rm -f "$work/platform.db"
export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
target/release/tenantapi project add prj_1 --database-url "postgres://postgres@127.0.0.1:$port/tenantapi_bench" >/dev/null
# The peers serve without authentication; so does this run (its cost: xtask/bench/auth.sh).
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn target/release/tenantapi serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
echo $! > "$work/server.pid"
for _ in $(seq 1 50); do curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/prj_1/data_point/1/ && break; sleep 0.2; done

"$peers/drf/run.sh"
"$peers/platformatic/run.sh"

echo
echo "## wrk: ${duration} s, ${connections} connections"
BENCH_ALLOW=tenantapi BENCH_WAIT_IDLE=120 \
BENCH_TARGETS="tenantapi http://127.0.0.1:8000/api/v1/prj_1/data_point/1/ http://127.0.0.1:8000/api/v1/prj_1/data_point/;platformatic_count http://127.0.0.1:8002/dataPoint/1 http://127.0.0.1:8002/dataPoint?limit=100&orderby.id=asc&totalCount=true" \
  "$peers/bench.sh" "$duration" "$connections"

echo
echo "## Beyond the pool: GET by id, 256 connections, ${duration} s (tenantapi only)"
wrk --latency -t 2 -c 256 -d "${duration}s" http://127.0.0.1:8000/api/v1/prj_1/data_point/1/ | awk '
  /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } /^Requests\/sec/ { rps = $2 } /Latency +[0-9]/ { max = $4 }
  /Non-2xx/ { bad = $NF } /Socket errors/ { sock = $0 }
  END { printf "%s req/s, p50 %s, p99 %s, max %s, non-2xx %s, %s\n", rps, p50, p99, max, bad ? bad : 0, sock ? sock : "no socket errors" }'

echo
echo "## pgbench -S (select-only), ${connections} clients, 2 threads, ${duration} s, same cluster"
"${psql_cluster[@]}" -d postgres -c "DROP DATABASE IF EXISTS pgbench_floor WITH (FORCE)" -c "CREATE DATABASE pgbench_floor"
pgbench -q -i -s 1 -h 127.0.0.1 -p "$port" -U postgres pgbench_floor >/dev/null 2>&1
pgbench -S -n -c "$connections" -j 2 -T "$duration" -h 127.0.0.1 -p "$port" -U postgres pgbench_floor 2>/dev/null | grep -E "^(tps|latency average)"
