#!/usr/bin/env bash
# Benchmark of lists on a large table: 1,000,000 rows in `reading` (PostgreSQL), 100 rows a page,
# ordered by id. The first page, page 5,000 (OFFSET 499,900), the last page and cursor page 5,000,
# each with an exact count, an estimated one and none; beside Platformatic DB over the same table
# (limit/offset, with and without totalCount), all in one run.
#
#   xtask/bench/large.sh [DURATION=5] [CONNECTIONS=4]
#
# Uses ../shared/peers (PEERS_DIR to override): its cluster on 127.0.0.1:55432 and its
# Platformatic peer, started here on :8004 over our bench database. Our server runs on :8000 with
# authentication off, like the peer. Everything it starts is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
duration=${1:-5}
connections=${2:-4}
peers=${PEERS_DIR:-$root/../shared/peers}
port=${PEER_PGPORT:-55432}
plt_port=8004
work=/tmp/tenantapi-bench
plt_dir=/tmp/peer-platformatic-large
mkdir -p "$work"
psql_bench=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d tenantapi_bench)

cleanup() {
  [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true
  PEER_PLT_DIR=$plt_dir PLT_PORT=$plt_port "$peers/platformatic/run.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
"$peers/pg.sh" start >/dev/null

cargo build --release -q -p tenantapi-server
"$root/xtask/bench/prepare-postgres.sh" "$port"
echo "loading 1,000,000 readings..."
"${psql_bench[@]}" -c "INSERT INTO reading (data_point_id, measured_at, value, quality)
  SELECT 1 + g % 10000, TIMESTAMPTZ '2026-01-01' + g * INTERVAL '1 second', (g % 1000) + 0.5, 0
  FROM generate_series(1, 1000000) AS g" -c "VACUUM ANALYZE reading"

rm -f "$work/platform.db"
export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
target/release/tenantapi project add prj_1 --database-url "postgres://postgres@127.0.0.1:$port/tenantapi_bench" >/dev/null
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn target/release/tenantapi serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
echo $! > "$work/server.pid"
ours=http://127.0.0.1:8000/api/v1/prj_1/reading/
for _ in $(seq 1 50); do curl -fs -o /dev/null "${ours}1/" && break; sleep 0.2; done

PEER_PLT_DIR=$plt_dir PLT_PORT=$plt_port PEER_DB=tenantapi_bench "$peers/platformatic/run.sh" >/dev/null
plt=http://127.0.0.1:$plt_port/reading
for _ in $(seq 1 100); do curl -fs -o /dev/null "$plt?limit=1" && break; sleep 0.3; done

# Cursor page 5,000: walk 499 pages of 1,000 rows, then 9 of 100 (a cursor is a position, not a
# page size), and check where it landed.
cursor_page=$(python3 - "$ours" <<'PY'
import json, sys, urllib.request
def get(url):
    with urllib.request.urlopen(url) as response:
        return json.load(response)
url = sys.argv[1] + "?page_size=1000&cursor="
for _ in range(499):
    url = get(url)["next"]
url = url.replace("page_size=1000", "page_size=100")
for _ in range(9):
    url = get(url)["next"]
first = get(url)["results"][0]["id"]
assert first == 499901, f"cursor page 5,000 starts at {first}"
print(url)
PY
)

# One case: wrk for `duration` s; prints "req/s p50 p99" (milliseconds).
measure() {
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' "$1")
  [ "$status" = 200 ] || { echo "FAILED: $1 answered $status" >&2; exit 1; }
  wrk --latency -t 2 -c "$connections" -d "${duration}s" "$1" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    /Non-2xx/ { bad = $NF }
    END { if (bad) { print "non-2xx responses: " bad > "/dev/stderr"; exit 1 } printf "%.0f %.2f %.2f", rps, p50, p99 }'
}

row() { # case, our URL, Platformatic URL or "-"
  read -r rps p50 p99 <<<"$(measure "$2")"
  if [ "$3" = - ]; then
    printf '| %s | %s | %s | %s | n/a | | | |\n' "$1" "$rps" "$p50" "$p99"
  else
    read -r prps pp50 pp99 <<<"$(measure "$3")"
    printf '| %s | %s | %s | %s | %s | %s | %s | %sx |\n' "$1" "$rps" "$p50" "$p99" "$prps" "$pp50" "$pp99" \
      "$(python3 -c "print(f'{$rps / max($prps, 1):.1f}')")"
  fi
}

page="&limit=100&orderby.id=asc"
echo
echo "## 1,000,000 rows, 100 a page: wrk ${duration} s, ${connections} connections"
echo
echo "| case | tenantapi req/s | p50 ms | p99 ms | Platformatic req/s | p50 ms | p99 ms | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
row "first page, exact count" "$ours" "$plt?totalCount=true$page"
row "first page, estimated count" "$ours?count=estimated" -
row "first page, no count" "$ours?count=none" "$plt?offset=0$page"
row "page 5,000, exact count" "$ours?page=5000" "$plt?totalCount=true&offset=499900$page"
row "page 5,000, estimated count" "$ours?page=5000&count=estimated" -
row "page 5,000, no count" "$ours?page=5000&count=none" "$plt?offset=499900$page"
row "last page, exact count" "$ours?page=last" "$plt?totalCount=true&offset=999900$page"
row "last page, estimated count" "$ours?page=last&count=estimated" -
row "cursor page 5,000 (no count)" "$cursor_page" -
