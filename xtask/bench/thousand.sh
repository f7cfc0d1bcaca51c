#!/usr/bin/env bash
# Many projects on one server: 1,000 SQLite projects (copies of one file with 100 data points)
# and 1,000 PostgreSQL projects (databases made from one template on the machine's cluster,
# created here and dropped at the end). GET by id on one project, then round-robin over all of
# a backend's projects (wrk, Lua script), authentication off, every setting at its default.
# Reports the time from `serve` to listening and to every project checked, resident memory
# idle and after the loads, throughput, the connections held, how long a 1,001st `project add`
# takes to be served while one project is under load (and that load's worst latency), and the
# idle cost of the periodic version checks.
#
#   xtask/bench/thousand.sh [PROJECTS=1000] [DURATION=8] [CONNECTIONS=32] [POSTGRES_PROJECTS=1000]
#
# State lives under /tmp/tenantapi-bench/thousand; our server (release build) runs on :8000.
# Extra settings for the server can be passed as TENANTAPI_* environment variables.
set -euo pipefail
cd "$(dirname "$0")/../.."
projects=${1:-1000}
duration=${2:-8}
connections=${3:-32}
pg_projects=${4:-1000}
server_url=${TENANTAPI_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
psql_server=(psql -X -q -v ON_ERROR_STOP=1 "$server_url/postgres")
work=/tmp/tenantapi-bench/thousand
rm -rf "$work"
mkdir -p "$work/projects"

drop_databases() {
  for database in $("${psql_server[@]}" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'tenantapi_thousand_%'"); do
    echo "DROP DATABASE IF EXISTS $database WITH (FORCE);"
  done | "${psql_server[@]}" >/dev/null
}
cleanup() {
  [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true
  [ -f "$work/load.pid" ] && kill "$(cat "$work/load.pid")" 2>/dev/null || true
  if [ "$pg_projects" -gt 0 ]; then drop_databases; fi
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p tenantapi-server

# One project file with the generated structure and 100 rows; the projects are copies of it.
version=$(grep -o 'SCHEMA_VERSION: &str = "[^"]*"' crates/generated/src/lib.rs | cut -d'"' -f2)
python3 - crates/generated/src/ddl.rs "$work/template.db" "$version" <<'PY'
import json, re, sqlite3, sys
source = open(sys.argv[1]).read()
ddl = json.loads(re.search(r'pub const SQLITE: &str = (".*?");\n', source, re.S).group(1))
database = sqlite3.connect(sys.argv[2])
database.executescript(ddl)
database.execute("INSERT INTO schema_version (version) VALUES (?)", (sys.argv[3],))
database.executemany("INSERT INTO data_point (name) VALUES (?)", [(f"dp-{i}",) for i in range(1, 101)])
database.commit()
PY
for number in $(seq 1 "$projects"); do cp "$work/template.db" "$work/projects/p$number.db"; done

# The PostgreSQL projects: one template with the structure and 100 rows, copied.
if [ "$pg_projects" -gt 0 ]; then
  drop_databases
  python3 - crates/generated/src/ddl.rs > "$work/ddl.sql" <<'PY'
import re, sys, json
source = open(sys.argv[1]).read()
print(json.loads(re.search(r'pub const POSTGRES: &str = (".*?");\n', source, re.S).group(1)))
PY
  "${psql_server[@]}" -c "CREATE DATABASE tenantapi_thousand_template"
  psql -X -q -v ON_ERROR_STOP=1 "$server_url/tenantapi_thousand_template" -f "$work/ddl.sql" \
    -c "INSERT INTO schema_version (version) VALUES ('$version')" \
    -c "INSERT INTO data_point (name) SELECT 'dp-' || i FROM generate_series(1, 100) AS i"
  created_at=$(date +%s)
  for number in $(seq 1 "$pg_projects"); do
    echo "CREATE DATABASE tenantapi_thousand_$number TEMPLATE tenantapi_thousand_template;"
  done | "${psql_server[@]}"
  echo "created $pg_projects PostgreSQL databases in $(( $(date +%s) - created_at )) s" >&2
fi

export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
target/release/tenantapi migrate >/dev/null
python3 - "$work/platform.db" "$work/projects" "$projects" "$server_url" "$pg_projects" <<'PY'
import sqlite3, sys
platform = sqlite3.connect(sys.argv[1])
platform.executemany(
    "INSERT INTO projects (name, database_url) VALUES (?, ?)",
    [(f"p{n}", f"{sys.argv[2]}/p{n}.db") for n in range(1, int(sys.argv[3]) + 1)]
    + [(f"q{n}", f"{sys.argv[4]}/tenantapi_thousand_{n}") for n in range(1, int(sys.argv[5]) + 1)],
)
platform.commit()
PY

started=$(date +%s.%N)
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn target/release/tenantapi serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
server=$!
echo $server > "$work/server.pid"
until curl -fs -o /dev/null http://127.0.0.1:8000/healthz; do sleep 0.02; done
listening=$(python3 -c "print(f'{$(date +%s.%N) - $started:.2f}')")
rss() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$server/status"; }
open_files() { { find "/proc/$server/fd" -lname "$work/projects/*.db" 2>/dev/null || true; } | wc -l; }
# The first structure-version pass runs beside serving; wait for it (every project checked).
for _ in $(seq 1 600); do
  curl -fs http://127.0.0.1:8000/readyz | grep -q unchecked || break
  sleep 0.1
done
checked=$(python3 -c "print(f'{$(date +%s.%N) - $started:.2f}')")
sleep 1
idle_rss=$(rss)

round_robin() { # prefix count
  cat > "$work/round_robin_$1.lua" <<LUA
local projects = $2
local next_project = 0
request = function()
  next_project = next_project % projects + 1
  return wrk.format(nil, "/api/v1/$1" .. next_project .. "/data_point/1/")
end
LUA
}
round_robin p "$projects"
round_robin q "$pg_projects"
summary() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF }
    /Latency/ && !max { max = ms($4) } /Socket errors/ { gsub(",", ""); errors = $4 + $6 + $8 + $10 }
    END { printf "%.0f %.2f %d %.1f %d", rps, p99, bad, max, errors }'
}
measure() { # url, or round_robin_PREFIX
  local args=(--latency -t2 -c"$connections" -d"${duration}s" --timeout 10s)
  if [[ "$1" == round_robin_* ]]; then args+=(-s "$work/$1.lua" http://127.0.0.1:8000/); else args+=("$1"); fi
  wrk "${args[@]}" | summary
}
pg_connections() {
  psql -X -At "$server_url/postgres" -c "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'tenantapi_thousand_%'"
}

# Every project served one request, one at a time (what the issue's memory goal names).
python3 - "$projects" "$pg_projects" <<'PY'
import sys, urllib.request
names = [f"p{n}" for n in range(1, int(sys.argv[1]) + 1)] + [f"q{n}" for n in range(1, int(sys.argv[2]) + 1)]
for name in names:
    with urllib.request.urlopen(f"http://127.0.0.1:8000/api/v1/{name}/data_point/1/") as response:
        assert response.status == 200, name
PY
each_once_rss=$(rss)
each_once_files=$(open_files)

read -r one_rps one_p99 one_bad one_max one_errors <<<"$(measure http://127.0.0.1:8000/api/v1/p1/data_point/1/)"
one_rss=$(rss)
read -r rr_rps rr_p99 rr_bad rr_max rr_errors <<<"$(measure round_robin_p)"
rr_rss=$(rss)
rr_files=$(open_files)
if [ "$pg_projects" -gt 0 ]; then
  read -r pg_one_rps pg_one_p99 pg_one_bad pg_one_max pg_one_errors <<<"$(measure http://127.0.0.1:8000/api/v1/q1/data_point/1/)"
  pg_one_rss=$(rss)
  read -r pg_rr_rps pg_rr_p99 pg_rr_bad pg_rr_max pg_rr_errors <<<"$(measure round_robin_q)"
  pg_rr_rss=$(rss)
  pg_held=$(pg_connections)
  # The reference for a round-robin over more databases than connections: what the cluster
  # does when every transaction needs a new connection (`pgbench -C -S`, same clients).
  "${psql_server[@]}" -c "CREATE DATABASE tenantapi_thousand_pgbench"
  pgbench -q -i -s 1 "$server_url/tenantapi_thousand_pgbench" >/dev/null 2>&1
  connect_tps=$(pgbench -C -S -c "$connections" -j 2 -T "$duration" "$server_url/tenantapi_thousand_pgbench" 2>/dev/null \
    | awk '/^tps/ { printf "%.0f", $3 }')
fi
sleep 2
settled_rss=$(rss)

# The 1,001st project, added while one project is under load: when it is served, and whether
# the load saw a pause (its worst latency against the same load's before).
cp "$work/template.db" "$work/projects/extra.db"
wrk --latency -t2 -c"$connections" -d"${duration}s" --timeout 10s http://127.0.0.1:8000/api/v1/p1/data_point/1/ > "$work/during_add.txt" &
echo $! > "$work/load.pid"
sleep 1
added_at=$(date +%s.%N)
target/release/tenantapi project add extra --database-url "$work/projects/extra.db" >/dev/null
until curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/extra/data_point/1/; do sleep 0.05; done
served_after=$(python3 -c "print(f'{$(date +%s.%N) - $added_at:.2f}')")
wait "$(cat "$work/load.pid")"
rm -f "$work/load.pid"
read -r add_rps add_p99 add_bad add_max add_errors <<<"$(summary < "$work/during_add.txt")"
# What the periodic structure-version checks cost while no request comes: the server's CPU
# over one whole check period (`version_check_seconds`, 10 s by default).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
period=${TENANTAPI_VERSION_CHECK_SECONDS:-10}
before=$(cpu_ticks)
sleep "$period"
idle_cpu=$(python3 -c "print(f'{($(cpu_ticks) - $before) / $(getconf CLK_TCK) / $period * 100:.1f}')")

echo
echo "## $projects SQLite and $pg_projects PostgreSQL projects on one server, wrk -t2 -c$connections -d${duration}s, GET by id"
echo
echo "| load | req/s | p99 ms | max ms | non-2xx | socket errors | resident MB after |"
echo "|---|---:|---:|---:|---:|---:|---:|"
echo "| idle, after start | | | | | | $idle_rss |"
echo "| one request to every project, one at a time | | | | | | $each_once_rss |"
echo "| one SQLite project | $one_rps | $one_p99 | $one_max | $one_bad | $one_errors | $one_rss |"
echo "| round-robin over $projects SQLite projects | $rr_rps | $rr_p99 | $rr_max | $rr_bad | $rr_errors | $rr_rss |"
if [ "$pg_projects" -gt 0 ]; then
  echo "| one PostgreSQL project | $pg_one_rps | $pg_one_p99 | $pg_one_max | $pg_one_bad | $pg_one_errors | $pg_one_rss |"
  echo "| round-robin over $pg_projects PostgreSQL projects | $pg_rr_rps | $pg_rr_p99 | $pg_rr_max | $pg_rr_bad | $pg_rr_errors | $pg_rr_rss |"
fi
echo "| one SQLite project while a project is added | $add_rps | $add_p99 | $add_max | $add_bad | $add_errors | |"
echo
echo "- listening $listening s after \`serve\` started; every project's structure version checked after $checked s"
echo "- round-robin / one project: SQLite $(python3 -c "print(f'{$rr_rps / $one_rps:.2f}')")"
if [ "$pg_projects" -gt 0 ]; then
  echo "- round-robin / one project: PostgreSQL $(python3 -c "print(f'{$pg_rr_rps / max($pg_one_rps, 1):.2f}')"); PostgreSQL connections held after it: $pg_held (budget ${TENANTAPI_POOL_MAX_CONNECTIONS_PER_HOST:-50})"
  echo "- the cluster with a new connection per transaction (\`pgbench -C -S -c $connections\`, same run): $connect_tps tps; our round-robin is $(python3 -c "print(f'{$pg_rr_rps / max($connect_tps, 1):.2f}')")× that"
fi
echo "- the 1,001st project (\`project add\` while one project is under load) was served $served_after s after the command started (refresh_seconds ${TENANTAPI_REFRESH_SECONDS:-5})"
echo "- project database files open after one request to each project: $each_once_files; after the round-robin: $rr_files; resident 2 s later: $settled_rss MB"
echo "- idle, the periodic version checks of $projects projects use $idle_cpu % of one core"
