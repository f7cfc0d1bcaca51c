#!/usr/bin/env bash
# Single-row writes against Platformatic DB in the same run: POST one row (a unique name),
# PATCH one field (PUT with the full row for Platformatic, which has no PATCH), PUT the full row,
# DELETE by id; wrk on loopback, DURATION seconds each, CONNECTIONS connections, ROUNDS rounds
# with the peers in turn inside a round; medians, ratios against Platformatic. Then the database
# work of each write (statements, transactions and round trips per request, from
# pg_stat_statements over a counted run), and the pgbench floors: the INSERT alone, and the
# statements of each guard (the transaction of five, the guarded statement alone and in its
# transaction of three).
#
#   xtask/bench/writes.sh [DURATION=8] [CONNECTIONS=32] [ROUNDS=2]
#
# TENANTAPI_BIN=path serves with that binary (another commit's build, to compare) instead of
# building this tree's.
# Uses ../shared/peers (PEERS_DIR to override): its throwaway cluster on 127.0.0.1:55432 (which
# this script restarts once with pg_stat_statements loaded), its Platformatic peer on :8002. Our
# server runs on :8000 against database tenantapi_bench (xtask/bench/prepare-postgres.sh).
# Authentication off on both. Everything it starts is stopped at the end; state under /tmp.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
duration=${1:-8}
connections=${2:-32}
rounds=${3:-2}
peers=${PEERS_DIR:-$root/../shared/peers}
port=${PEER_PGPORT:-55432}
work=/tmp/tenantapi-bench
mkdir -p "$work"
psql_cluster=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
# Rows each DELETE run may take, ids from 1,000,001 (a run takes at most one id per request).
deletable=400000

cleanup() {
  [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true
  "$peers/platformatic/run.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
"$peers/pg.sh" start
# pg_stat_statements counts the statements each write sends; loading it needs a restart.
if ! "${psql_cluster[@]}" -d postgres -tAc "SHOW shared_preload_libraries" | grep -q pg_stat_statements; then
  "${psql_cluster[@]}" -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
  "$peers/pg.sh" stop >/dev/null
  "$peers/pg.sh" start >/dev/null
fi

tenantapi=${TENANTAPI_BIN:-}
if [ -z "$tenantapi" ]; then
  cargo build --release -q -p tenantapi-server
  tenantapi=target/release/tenantapi
fi
"$root/xtask/bench/prepare-postgres.sh" "$port"
for database in tenantapi_bench peer_prj_1; do
  "${psql_cluster[@]}" -d "$database" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
done

rm -f "$work/platform.db"
export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
"$tenantapi" project add prj_1 --database-url "postgres://postgres@127.0.0.1:$port/tenantapi_bench" >/dev/null
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn "$tenantapi" serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
echo $! > "$work/server.pid"
for _ in $(seq 1 50); do curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/prj_1/data_point/1/ && break; sleep 0.2; done
"$peers/platformatic/run.sh" >/dev/null

base_url() { [ "$1" = tenantapi ] && echo http://127.0.0.1:8000 || echo http://127.0.0.1:8002; }
database_of() { [ "$1" = tenantapi ] && echo tenantapi_bench || echo peer_prj_1; }

# Fresh rows to delete, the same ids in both databases.
refill_deletable() {
  for database in tenantapi_bench peer_prj_1; do
    "${psql_cluster[@]}" -d "$database" -c "DELETE FROM data_point WHERE id > 1000000" \
      -c "INSERT INTO data_point (id, name) SELECT i, 'del-' || i FROM generate_series(1000001, $((1000000 + deletable))) AS i" \
      -c "VACUUM ANALYZE data_point"
  done
}

run_write() { # peer kind seconds -> RESULT fields
  local first=1 count=10000
  [ "$2" = delete ] && first=1000001 count=$deletable
  WRITE_KIND=$2 WRITE_PEER=$1 WRITE_FIRST=$first WRITE_COUNT=$count WRITE_THREADS=2 \
    wrk -t2 -c"$connections" -d"${3}s" --timeout 10s --latency -s xtask/bench/wrk/write.lua "$(base_url "$1")" \
    | grep '^RESULT'
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

results=$work/writes-results.txt
: > "$results"
for round in $(seq 1 "$rounds"); do
  refill_deletable
  for kind in post patch put delete; do
    for peer in tenantapi platformatic; do
      line=$(run_write "$peer" "$kind" "$duration")
      echo "$round $kind $peer $(echo "$line" | field rps) $(echo "$line" | field p99_ms) $(echo "$line" | field non2xx3xx) $(echo "$line" | field err_timeout)" >> "$results"
      sleep 1
    done
  done
done

echo "## Single-row writes: wrk ${duration} s × ${connections} connections, ${rounds} rounds (medians; p99 of each round)"
echo
echo "| case | tenantapi req/s | p99 ms | Platformatic req/s | p99 ms | ratio | non-2xx (ours, theirs) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
names = {"post": "POST one row", "patch": "PATCH one field (Platformatic: PUT the row)",
         "put": "PUT the full row", "delete": "DELETE by id"}
for kind in ["post", "patch", "put", "delete"]:
    def of(peer, column):
        return [float(row[column]) for row in rows if row[1] == kind and row[2] == peer]
    ours, theirs = statistics.median(of("tenantapi", 3)), statistics.median(of("platformatic", 3))
    p99 = lambda peer: " / ".join(f"{value:.1f}" for value in of(peer, 4))
    bad = lambda peer: int(sum(of(peer, 5)) + sum(of(peer, 6)))
    print(f"| {names[kind]} | {ours:,.0f} | {p99('tenantapi')} | {theirs:,.0f} | {p99('platformatic')} "
          f"| {ours / theirs:.2f}× | {bad('tenantapi')}, {bad('platformatic')} |")
PY

# The database work per write: a counted run of each kind at 4 connections, statement calls
# before and after.
echo
echo "## Database work per request (pg_stat_statements; 3 s at 4 connections)"
echo
echo "| case | peer | requests | statements / request | statements (calls / request) |"
echo "|---|---|---:|---:|---|"
refill_deletable
for kind in post patch put delete; do
  for peer in tenantapi platformatic; do
    database=$(database_of "$peer")
    "${psql_cluster[@]}" -d "$database" -c "SELECT pg_stat_statements_reset()" >/dev/null
    line=$(connections=4 run_write "$peer" "$kind" 3)
    requests=$(echo "$line" | field requests)
    sleep 0.5
    "${psql_cluster[@]}" -d "$database" -tA -F $'\t' -c "
      SELECT sum(calls), string_agg(left(regexp_replace(query, '\s+', ' ', 'g'), 60) || ' (' || round(calls::numeric / $requests, 2) || ')', '; ' ORDER BY calls DESC)
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND query NOT LIKE '%pg_stat%' AND calls >= $requests / 2" > "$work/statements.txt"
    IFS=$'\t' read -r calls listing < "$work/statements.txt"
    python3 -c "
requests, calls = $requests, ${calls:-0}
print(f'| $kind | $peer | {requests:,} | {calls / requests:.2f} | ${listing//|/\\|} |')"
  done
done

echo
echo "## pgbench floors: $connections clients, 2 threads, ${duration} s, database tenantapi_bench"
echo
version=$(grep -o 'SCHEMA_VERSION: &str = "[^"]*"' crates/generated/src/lib.rs | cut -d'"' -f2)
cat > "$work/insert.sql" <<'SQL'
INSERT INTO data_point (name, unit) VALUES ('pgb-' || :client_id || '-' || md5(random()::text || clock_timestamp()::text), 'kWh') RETURNING id, name, unit, site_id, type;
SQL
cat > "$work/guarded.sql" <<SQL
BEGIN;
SELECT version FROM schema_version FOR SHARE;
INSERT INTO data_point (name, unit) VALUES ('pgb-' || :client_id || '-' || md5(random()::text || clock_timestamp()::text), 'kWh') RETURNING id \gset
SELECT id, name, unit, site_id, type FROM data_point WHERE id = :id;
COMMIT;
SQL
cat > "$work/one-statement.sql" <<SQL
WITH guard AS (SELECT version FROM schema_version FOR SHARE SKIP LOCKED) INSERT INTO data_point (name, unit) SELECT 'pgb-' || :client_id || '-' || md5(random()::text || clock_timestamp()::text), 'kWh' WHERE (SELECT count(*) FROM guard WHERE version = '$version') = 1 AND (SELECT count(*) FROM guard) = 1 RETURNING id, name, unit, site_id, type;
SQL
cat > "$work/one-statement-in-transaction.sql" <<SQL
BEGIN;
$(cat "$work/one-statement.sql")
COMMIT;
SQL
for script in insert guarded one-statement one-statement-in-transaction; do
  printf '%s: ' "$script"
  pgbench -n -M prepared -c "$connections" -j 2 -T "$duration" -f "$work/$script.sql" \
    -h 127.0.0.1 -p "$port" -U postgres tenantapi_bench 2>/dev/null | grep -E '^tps' | sed 's/ (without initial connection time)//'
done
