#!/usr/bin/env bash
# Aggregates over 1,000,000 rows (`reading`, 10,000 data points) on PostgreSQL and SQLite: the
# time of `/reading/aggregate/` requests against the database's own SQL for the same answer in
# the same run (psql -c / sqlite3 with the same GROUP BY, ORDER BY and LIMIT; both timings
# include a process start, curl's and the client's). Medians of RUNS (default 5).
#
#   xtask/bench/aggregate.sh [RUNS=5]
#
# Uses ../shared/peers's cluster on 127.0.0.1:55432 (PEERS_DIR, PEER_PGPORT to override). Our
# server runs on :8000 with authentication off; state under /tmp/tenantapi-bench/aggregate; the
# server is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
source xtask/bench/common.sh
runs=${1:-5}
work=/tmp/tenantapi-bench/aggregate
bench_fresh_dir "$work"
bench_stop_server_on_exit "$work"
bench_serve_million_readings "$work"

median() { sort -n | awk '{ a[NR] = $1 } END { m = int((NR + 1) / 2); print a[m] }'; }
timed() {
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.4f}')"
}

# name | query string | the same answer in SQL
cases=(
  "whole table: count, sum, avg|count=&sum=value&avg=value|SELECT COUNT(*), SUM(value), AVG(value) FROM reading"
  "10,000 groups, first 100: count, sum, avg, min, max|group_by=data_point_id&count=&sum=value&avg=value&min=measured_at&max=measured_at&page_size=100|SELECT data_point_id, COUNT(*), SUM(value), AVG(value), MIN(measured_at), MAX(measured_at) FROM reading GROUP BY data_point_id ORDER BY data_point_id LIMIT 100"
  "10,000 groups by sum, top 10|group_by=data_point_id&sum=value&ordering=-value__sum&page_size=10|SELECT data_point_id, SUM(value) FROM reading GROUP BY data_point_id ORDER BY SUM(value) DESC, data_point_id LIMIT 10"
  "filtered (1%), 100 groups|data_point_id__lte=100&group_by=data_point_id&count=&avg=value|SELECT data_point_id, COUNT(*), AVG(value) FROM reading WHERE data_point_id <= 100 GROUP BY data_point_id ORDER BY data_point_id LIMIT 100"
)

echo "| backend | request | tenantapi s (median of $runs) | database's own SQL s | ratio (database / tenantapi) |"
echo "|---|---|---:|---:|---:|"
for backend in pg lite; do
  for case in "${cases[@]}"; do
    IFS='|' read -r name query sql <<< "$case"
    ours=()
    reference=()
    for _ in $(seq 1 "$runs"); do
      ours+=("$(timed curl -fsS "http://127.0.0.1:8000/api/v1/$backend/reading/aggregate/?$query")")
      if [ "$backend" = pg ]; then
        reference+=("$(timed "${psql_cluster[@]}" -d tenantapi_bench -c "$sql")")
      else
        reference+=("$(timed sqlite3 "$sqlite_db" "$sql")")
      fi
    done
    ours=$(printf '%s\n' "${ours[@]}" | median)
    reference=$(printf '%s\n' "${reference[@]}" | median)
    printf '| %s | %s | %s | %s | %.2f× |\n' \
      "$([ "$backend" = pg ] && echo PostgreSQL || echo SQLite)" "$name" "$ours" "$reference" \
      "$(python3 -c "print($reference / $ours)")"
  done
done
