#!/usr/bin/env bash
# The per-server connection budget at scale: 150 PostgreSQL projects on the machine's own
# cluster (127.0.0.1:5432, `max_connections` 100), GET by id round-robin over all of them with
# wrk, beside the same load on one project, in one run. Reports throughput, errors, the most
# connections the server held (sampled from pg_stat_activity every 100 ms) and whether another
# client could still connect during the load.
#
#   xtask/bench/budget.sh [DURATION=10] [CONNECTIONS=32] [PROJECTS=150]
#
# Creates databases tenantapi_budget_* (copies of one template) and drops them at the end; our
# server (release build, default settings, authentication off) runs on :8000. State lives under
# /tmp/tenantapi-bench/budget.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}
connections=${2:-32}
projects=${3:-150}
server_url=${TENANTAPI_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
work=/tmp/tenantapi-bench/budget
mkdir -p "$work"
psql_server=(psql -X -q -v ON_ERROR_STOP=1 "$server_url/postgres")

drop_all() {
  for database in $("${psql_server[@]}" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'tenantapi_budget_%'"); do
    echo "DROP DATABASE IF EXISTS $database WITH (FORCE);"
  done | "${psql_server[@]}" >/dev/null
}
cleanup() {
  [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null || true
  drop_all
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p tenantapi-server
drop_all

# One template with the generated structure and 100 rows; the projects are copies of it.
python3 - crates/generated/src/ddl.rs > "$work/ddl.sql" <<'PY'
import re, sys, json
source = open(sys.argv[1]).read()
print(json.loads(re.search(r'pub const POSTGRES: &str = (".*?");\n', source, re.S).group(1)))
PY
version=$(grep -o 'SCHEMA_VERSION: &str = "[^"]*"' crates/generated/src/lib.rs | cut -d'"' -f2)
"${psql_server[@]}" -c "CREATE DATABASE tenantapi_budget_template"
psql -X -q -v ON_ERROR_STOP=1 "$server_url/tenantapi_budget_template" -f "$work/ddl.sql" \
  -c "INSERT INTO schema_version (version) VALUES ('$version')" \
  -c "INSERT INTO data_point (name) SELECT 'dp-' || i FROM generate_series(1, 100) AS i"
for number in $(seq 1 "$projects"); do
  echo "CREATE DATABASE tenantapi_budget_$number TEMPLATE tenantapi_budget_template;"
done | "${psql_server[@]}"

rm -f "$work/platform.db"
export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
for number in $(seq 1 "$projects"); do
  target/release/tenantapi project add "p$number" --database-url "$server_url/tenantapi_budget_$number" >/dev/null
done
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn target/release/tenantapi serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
echo $! > "$work/server.pid"
for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/p1/data_point/1/ && break; sleep 0.2; done

cat > "$work/round_robin.lua" <<LUA
local projects = $projects
local next_project = 0
request = function()
  next_project = next_project % projects + 1
  return wrk.format(nil, "/api/v1/p" .. next_project .. "/data_point/1/")
end
LUA

# Most connections held, sampled while wrk runs; and whether psql could connect each time.
sample() {
  local most=0 refused=0 count
  while :; do
    if count=$(psql -X -At "$server_url/postgres" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenantapi' AND datname LIKE 'tenantapi_budget_%'" 2>/dev/null); then
      [ "$count" -gt "$most" ] && most=$count
    else
      refused=$((refused + 1))
    fi
    echo "$most $refused" > "$work/sample.txt"
    sleep 0.1
  done
}

run() { # name lua-or-url
  local args=(-t2 -c"$connections" -d"${duration}s" --timeout 10s --latency -s "$work/report.lua")
  if [ "$2" = round_robin ]; then
    cat "$work/round_robin.lua" "$root_report" > "$work/report.lua"
    wrk "${args[@]}" http://127.0.0.1:8000/ > "$work/$1.txt"
  else
    cp "$root_report" "$work/report.lua"
    wrk "${args[@]}" "$2" > "$work/$1.txt"
  fi
}
root_report=${PEERS_DIR:-$PWD/../shared/peers}/wrk_report.lua

# Warm up: every project once, then the single project.
wrk -t1 -c4 -d3s -s "$work/round_robin.lua" http://127.0.0.1:8000/ >/dev/null
run one_project http://127.0.0.1:8000/api/v1/p1/data_point/1/
echo "0 0" > "$work/sample.txt"
sample &
sampler=$!
run round_robin round_robin
kill "$sampler"; wait "$sampler" 2>/dev/null || true
sampler=
read -r most refused < "$work/sample.txt"
limit=${TENANTAPI_POOL_MAX_CONNECTIONS_PER_HOST:-50}

field() { grep -o "$2=[0-9.]*" "$1" | head -n1 | cut -d= -f2; }
echo
echo "## $projects projects on one PostgreSQL server (max_connections $("${psql_server[@]}" -Atc 'SHOW max_connections')), wrk -t2 -c$connections -d${duration}s, budget $limit connections"
echo
echo "| load | req/s | non-2xx | socket errors | p50 ms | p99 ms | max ms |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for name in one_project round_robin; do
  file="$work/$name.txt"
  errors=$(( $(field "$file" err_connect) + $(field "$file" err_read) + $(field "$file" err_write) + $(field "$file" err_timeout) ))
  echo "| $name | $(field "$file" rps) | $(field "$file" non2xx3xx) | $errors | $(field "$file" p50_ms) | $(field "$file" p99_ms) | $(field "$file" max_ms) |"
done
echo
echo "- round-robin / one project: $(python3 -c "print(f'{$(field "$work/round_robin.txt" rps) / $(field "$work/one_project.txt" rps):.2f}')")"
echo "- most connections held during the round-robin: $most (budget $limit); psql connections refused meanwhile: $refused"
