#!/usr/bin/env bash
# `?search=` on a table of 1,000,000 rows (PostgreSQL, `tag`, whose one search field is `label`,
# contains): a rare term's first page without a count, against the filter that states the same
# condition (`label__icontains=`), without an index and then with a trigram index (pg_trgm), all
# in one run. wrk -t2 -cCONNECTIONS (timeout 30 s) for DURATION seconds each after a 2 s warm-up.
#
#   xtask/bench/search.sh [DURATION=5] [CONNECTIONS=8]
#
# Uses ../shared/peers's cluster on 127.0.0.1:55432 (PEERS_DIR, PEER_PGPORT to override) and wrk's
# report script. Our server runs on :8000 with authentication off; stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
source xtask/bench/common.sh
duration=${1:-5}
connections=${2:-8}
work=/tmp/tenantapi-bench/search
bench_fresh_dir "$work"
bench_stop_server_on_exit "$work"
bench_load_tools

cargo build --release -q -p tenantapi-server
"$PWD/xtask/bench/prepare-postgres.sh" "$port" >/dev/null
echo "loading 1,000,000 tags..." >&2
"${psql_cluster[@]}" -d tenantapi_bench -c "INSERT INTO tag (label)
  SELECT 'tag-' || g || '-' || md5(g::text) FROM generate_series(1, 1000000) AS g" \
  -c "VACUUM ANALYZE tag"

export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
target/release/tenantapi project add p --database-url "postgres://postgres@127.0.0.1:$port/tenantapi_bench" >/dev/null
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn target/release/tenantapi serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
echo $! > "$work/server.pid"
base=http://127.0.0.1:8000/api/v1/p/tag/
for _ in $(seq 1 100); do curl -fs -o /dev/null "${base}?count=none" && break; sleep 0.1; done

# A term in 1 row of 16^5: md5 fragments of five characters.
term=$("${psql_cluster[@]}" -d tenantapi_bench -At -c "SELECT substr(md5('777777'), 3, 5)")
matches=$(curl -fs "${base}?search=$term&count=exact&page_size=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["count"])')

run() {
  local url=$1
  wrk -t2 -c"$connections" -d2s "$url" >/dev/null
  wrk -t2 -c"$connections" -d"${duration}s" --timeout 30s --latency -s "$peers/wrk_report.lua" "$url" | grep RESULT
}
field() { echo "$1" | grep -o "$2=[0-9.]*" | cut -d= -f2; }

echo "| index | request | req/s | p50 ms | p99 ms |"
echo "|---|---|---:|---:|---:|"
for index in none trigram; do
  if [ "$index" = trigram ]; then
    "${psql_cluster[@]}" -d tenantapi_bench -c "CREATE EXTENSION IF NOT EXISTS pg_trgm" \
      -c "CREATE INDEX tag_label_trigrams ON tag USING gin (label gin_trgm_ops)" -c "ANALYZE tag"
  fi
  for request in "search=$term" "label__icontains=$term"; do
    result=$(run "${base}?${request}&count=none")
    printf '| %s | `?%s&count=none` | %s | %s | %s |\n' "$index" "$request" \
      "$(field "$result" rps)" "$(field "$result" p50_ms)" "$(field "$result" p99_ms)"
  done
done
echo
echo "term: $term ($matches matching row(s) of 1,000,000)"
