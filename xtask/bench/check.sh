#!/usr/bin/env bash
# Benchmark of `tenantapi check`: wall time for N PostgreSQL and N SQLite project databases
# (default 200 each), with and without --structure, plus one unreachable project (which must
# cost its timeout once, not once per project).
#
#   xtask/bench/check.sh [N=200]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-200}
peers=${PEERS_DIR:-$PWD/../shared/peers}
port=${PEER_PGPORT:-55432}
work=/tmp/tenantapi-bench-check
rm -rf "$work" && mkdir -p "$work/sqlite"
psql_cluster=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)

"$peers/pg.sh" start >/dev/null
cargo build --release -q -p tenantapi-server
xtask/bench/prepare-postgres.sh "$port"
export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
bin=target/release/tenantapi

# One SQLite reference database, copied N times; N PostgreSQL databases from one template.
python3 - crates/generated/src/ddl.rs > "$work/sqlite.sql" <<'PY'
import re, sys, json
source = open(sys.argv[1]).read()
print(json.loads(re.search(r'pub const SQLITE: &str = (".*?");\n', source, re.S).group(1)))
PY
version=$(grep -o 'SCHEMA_VERSION: &str = "[^"]*"' crates/generated/src/lib.rs | cut -d'"' -f2)
python3 -c "
import sqlite3, sys
db = sqlite3.connect('$work/sqlite/reference.db')
db.executescript(open('$work/sqlite.sql').read())
db.execute(\"INSERT INTO schema_version (version) VALUES ('$version')\")
db.commit()
"
for i in $(seq 1 "$n"); do
  cp "$work/sqlite/reference.db" "$work/sqlite/p$i.db"
  echo "DROP DATABASE IF EXISTS tenantapi_check_$i WITH (FORCE); CREATE DATABASE tenantapi_check_$i TEMPLATE tenantapi_bench;"
done | "${psql_cluster[@]}" -d postgres >/dev/null
for i in $(seq 1 "$n"); do
  $bin project add "sqlite-$i" --database-url "$work/sqlite/p$i.db" >/dev/null
  $bin project add "pg-$i" --database-url "postgres://postgres@127.0.0.1:$port/tenantapi_check_$i" >/dev/null
done

timed() { local start end; start=$(date +%s.%N); "$@" >/dev/null || true; end=$(date +%s.%N); echo "$end - $start" | bc; }
echo "| check of $((2 * n)) projects ($n PostgreSQL, $n SQLite) | wall time |"
echo "|---|---:|"
printf '| version only | %.2f s |\n' "$(timed $bin check)"
printf '| --structure | %.2f s |\n' "$(timed $bin check --structure)"
$bin project add unreachable --database-url "postgres://postgres@127.0.0.1:9/nothing" >/dev/null
printf '| version only, plus one unreachable project (--timeout 3) | %.2f s |\n' "$(timed $bin check --timeout 3)"

for i in $(seq 1 "$n"); do echo "DROP DATABASE IF EXISTS tenantapi_check_$i WITH (FORCE);"; done | "${psql_cluster[@]}" -d postgres >/dev/null
