#!/usr/bin/env bash
# Serving through PgBouncer against direct connections, in one run: one PostgreSQL project
# database on the machine's cluster, served as four projects: direct; through PgBouncer in
# session mode (`pgbouncer=session`); in transaction mode (`pgbouncer=transaction`), where our
# statement timeout costs a `BEGIN; SET LOCAL` and a `COMMIT` around each request; and in
# transaction mode as a role whose own statement timeout (30 s, as strict as ours) spares them.
# GET by id and a 20-row list page with wrk, each case run ROUNDS times in turn; reports the
# median of each and its ratio to direct in the same round.
#
#   xtask/bench/pgbouncer.sh [DURATION=5] [CONNECTIONS=32] [ROUNDS=3]
#
# Installs wrk and pgbouncer (Debian's packages) when missing. Creates database
# tenantapi_bench_pgbouncer and drops it at the end; our server (release build, default
# settings, authentication off like the peers) runs on :8000, the two PgBouncers on free ports
# (as the postgres user when run as root: PgBouncer refuses root). State lives under
# /tmp/tenantapi-bench/pgbouncer.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5}
connections=${2:-32}
rounds=${3:-3}
server_url=${TENANTAPI_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
server_authority=${server_url##*@}
server_host=${server_authority%:*}
server_port=${server_authority##*:}
work=/tmp/tenantapi-bench/pgbouncer
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"
database=tenantapi_bench_pgbouncer
role=tenantapi_bench_timeout
psql_server=(psql -X -q -v ON_ERROR_STOP=1 "$server_url/postgres")

cleanup() {
  [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true
  pkill -f "pgbouncer $work/" 2>/dev/null || true
  "${psql_server[@]}" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "DROP ROLE IF EXISTS $role" >/dev/null || true
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -x /usr/sbin/pgbouncer ] || { apt-get update -qq && apt-get install -y -qq pgbouncer >/dev/null; }
cargo build --release -q -p tenantapi-server

# The project database: the generated structure and 1,000 rows.
python3 - crates/generated/src/ddl.rs > "$work/ddl.sql" <<'PY'
import re, sys, json
source = open(sys.argv[1]).read()
print(json.loads(re.search(r'pub const POSTGRES: &str = (".*?");\n', source, re.S).group(1)))
PY
version=$(grep -o 'SCHEMA_VERSION: &str = "[^"]*"' crates/generated/src/lib.rs | cut -d'"' -f2)
"${psql_server[@]}" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"
psql -X -q -v ON_ERROR_STOP=1 "$server_url/$database" -f "$work/ddl.sql" \
  -c "INSERT INTO schema_version (version) VALUES ('$version')" \
  -c "INSERT INTO data_point (name, unit) SELECT 'dp-' || i, 'kWh' FROM generate_series(1, 1000) AS i" \
  -c "DROP ROLE IF EXISTS $role" -c "CREATE ROLE $role LOGIN" \
  -c "ALTER ROLE $role SET statement_timeout = '30s'" \
  -c "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO $role"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_bouncer() { # mode port
  printf '"postgres" ""\n"%s" ""\n' "$role" > "$work/users.txt"
  cat > "$work/$1.ini" <<INI
[databases]
* = host=$server_host port=$server_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $2
unix_socket_dir =
auth_type = trust
auth_file = $work/users.txt
pool_mode = $1
default_pool_size = 20
max_client_conn = 1000
INI
  chmod 644 "$work/users.txt" "$work/$1.ini"
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- /usr/sbin/pgbouncer "$work/$1.ini" > "$work/$1.log" 2>&1 &
  else
    /usr/sbin/pgbouncer "$work/$1.ini" > "$work/$1.log" 2>&1 &
  fi
  for _ in $(seq 1 50); do
    psql -X -q "postgres://postgres@127.0.0.1:$2/$database" -c 'SELECT 1' >/dev/null 2>&1 && return
    sleep 0.1
  done
  cat "$work/$1.log"; echo "pgbouncer ($1) did not start"; exit 1
}
session_port=$(free_port)
start_bouncer session "$session_port"
transaction_port=$(free_port)
start_bouncer transaction "$transaction_port"

export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
target/release/tenantapi project add direct --database-url "$server_url/$database" >/dev/null
target/release/tenantapi project add session \
  --database-url "postgres://postgres@127.0.0.1:$session_port/$database?pgbouncer=session" >/dev/null
target/release/tenantapi project add transaction \
  --database-url "postgres://postgres@127.0.0.1:$transaction_port/$database?pgbouncer=transaction" >/dev/null
target/release/tenantapi project add transaction-role-timeout \
  --database-url "postgres://$role@127.0.0.1:$transaction_port/$database?pgbouncer=transaction" >/dev/null
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn target/release/tenantapi serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
echo $! > "$work/server.pid"
for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:8000/readyz && break; sleep 0.2; done

report=${PEERS_DIR:-$PWD/../shared/peers}/wrk_report.lua
modes=(direct session transaction transaction-role-timeout)
declare -A paths=([get]="data_point/500/" [list]="data_point/?page_size=20&ordering=-id")
for mode in "${modes[@]}"; do
  for case in get list; do
    curl -fs -o /dev/null "http://127.0.0.1:8000/api/v1/$mode/${paths[$case]}" \
      || { cat "$work/server.log"; echo "$mode $case did not answer 200"; exit 1; }
    wrk -t2 -c"$connections" -d1s "http://127.0.0.1:8000/api/v1/$mode/${paths[$case]}" >/dev/null
  done
done
for round in $(seq 1 "$rounds"); do
  for case in get list; do
    for mode in "${modes[@]}"; do
      wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s --latency -s "$report" \
        "http://127.0.0.1:8000/api/v1/$mode/${paths[$case]}" | grep RESULT > "$work/$case-$mode-$round.txt"
    done
  done
done

python3 - "$work" "$rounds" "$duration" "$connections" <<'PY'
import re, statistics, sys
work, rounds, duration, connections = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def result(case, mode, round_):
    text = open(f"{work}/{case}-{mode}-{round_}.txt").read()
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", text)}
print(f"\n## Through PgBouncer 1.18 vs direct, wrk -t2 -c{connections} -d{duration}s, "
      f"median of {rounds} rounds (PgBouncer default_pool_size 20, our pool at its defaults)\n")
print("| case | mode | req/s | vs direct | p50 ms | p99 ms | max ms | errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
names = {"get": "GET by id", "list": "list, 20 rows + count"}
for case in ("get", "list"):
    for mode in ("direct", "session", "transaction", "transaction-role-timeout"):
        runs = [result(case, mode, r) for r in range(1, rounds + 1)]
        ratios = [run["rps"] / result(case, "direct", r)["rps"] for r, run in zip(range(1, rounds + 1), runs)]
        errors = sum(run[k] for run in runs for k in ("err_connect", "err_read", "err_write", "err_timeout", "non2xx3xx"))
        med = lambda key: statistics.median(run[key] for run in runs)
        print(f"| {names[case]} | {mode} | {med('rps'):,.0f} | {statistics.median(ratios):.2f}× | "
              f"{med('p50_ms'):.2f} | {med('p99_ms'):.2f} | {med('max_ms'):.1f} | {errors:.0f} |")
PY
