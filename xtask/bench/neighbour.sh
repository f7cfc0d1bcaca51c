#!/usr/bin/env bash
# A noisy neighbour on one database server: two PostgreSQL projects on the benchmark cluster.
# "noisy" (300,000 data points) gets 32 connections of expensive counted searches
# (`name__icontains` with `count=exact`, a scan each); "quiet" (10,000 rows) reads one row by id
# with 4 connections. Rounds alternate quiet alone, quiet beside the flood, and quiet beside one
# such scan run by psql in a loop outside the server (the reference: what one scan's CPU costs
# quiet on this machine whatever schedules it); the table gives medians over the rounds and the
# ratios the goal is stated in (quiet's p99 beside the flood under 3x its p99 alone + 5 ms, its
# throughput at least 0.5x alone).
#
#   xtask/bench/neighbour.sh [DURATION=8] [ROUNDS=3]
#
# BIN=path/to/tenantapi runs another build (e.g. one built from an older commit, for a before
# and after); by default the release build of this tree. Uses ../shared/peers (PEERS_DIR to
# override) for its cluster on 127.0.0.1:55432 and wrk's report script; our server
# (authentication off, default settings) runs on :8000. State under /tmp/tenantapi-bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
source xtask/bench/common.sh
duration=${1:-8}
rounds=${2:-3}
work=/tmp/tenantapi-bench/neighbour
mkdir -p "$work"
bench_stop_server_on_exit "$work"
bench_load_tools
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p tenantapi-server
  BIN=${CARGO_TARGET_DIR:-target}/release/tenantapi
fi

"$root/xtask/bench/prepare-postgres.sh" "$port"
for name in noisy quiet; do
  "${psql_cluster[@]}" -d postgres -c "DROP DATABASE IF EXISTS tenantapi_bench_$name WITH (FORCE)" \
    -c "CREATE DATABASE tenantapi_bench_$name TEMPLATE tenantapi_bench"
done
"${psql_cluster[@]}" -d tenantapi_bench_noisy -c "INSERT INTO data_point (name, unit) SELECT 'more-' || lpad(i::text, 6, '0'), 'kWh' FROM generate_series(1, 290000) AS i; ANALYZE;"

rm -f "$work/platform.db"
export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
for name in noisy quiet; do
  "$BIN" project add "$name" --database-url "postgres://postgres@127.0.0.1:$port/tenantapi_bench_$name" >/dev/null
done
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn "$BIN" serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
echo $! > "$work/server.pid"
for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/quiet/data_point/1/ && break; sleep 0.1; done

quiet_url="http://127.0.0.1:8000/api/v1/quiet/data_point/1/"
noisy_url="http://127.0.0.1:8000/api/v1/noisy/data_point/?name__icontains=00042&count=exact&page_size=10"
curl -fs -o /dev/null "$noisy_url"
wrk -t1 -c4 -d2s "$quiet_url" >/dev/null 2>&1

quiet() { wrk -t1 -c4 -d"${duration}s" --timeout 10s --latency -s "$peers/wrk_report.lua" "$quiet_url" > "$1" 2>&1; }
for round in $(seq 1 "$rounds"); do
  quiet "$work/alone-$round.txt"
  wrk -t2 -c32 -d"$((duration + 2))s" --timeout 20s -s "$peers/wrk_report.lua" "$noisy_url" > "$work/noisy-$round.txt" 2>&1 &
  noisy=$!
  sleep 1
  # The server's in-flight limit for the cluster while the flood runs, sampled twice a second.
  (
    while kill -0 "$noisy" 2>/dev/null; do
      curl -s http://127.0.0.1:8000/metrics \
        | awk -v host="127.0.0.1:$port" '$1 == "tenantapi_host_statements{host=\"" host "\",state=\"limit\"}" { print $2 }'
      sleep 0.5
    done
  ) > "$work/limit-$round.txt" &
  sampler=$!
  quiet "$work/beside-$round.txt"
  wait "$noisy"
  wait "$sampler" 2>/dev/null || true
  # The server finishes the flood's requests after wrk has stopped: what follows starts after.
  until [ "$(curl -s -o /dev/null -w '%{time_total}' "$quiet_url" | awk '{ print ($1 < 0.005) }')" = 1 ]; do sleep 0.5; done
  sleep 2
  ( while :; do "${psql_cluster[@]}" -d tenantapi_bench_noisy -Atc "SELECT count(*) FROM data_point WHERE name ILIKE '%00042%'" >/dev/null; done ) &
  scanner=$!
  sleep 1
  quiet "$work/one_scan-$round.txt"
  kill "$scanner"; wait "$scanner" 2>/dev/null || true
  sleep 2
done

field() { grep -o "$2=[0-9.]*" "$1" | head -n1 | cut -d= -f2; }
median() {
  for round in $(seq 1 "$rounds"); do field "$work/$1-$round.txt" "$2"; done \
    | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "## Noisy neighbour: quiet wrk -t1 -c4 -d${duration}s (GET by id) alone and beside noisy wrk -t2 -c32 (counted name__icontains over 300,000 rows), median of $rounds rounds"
echo
echo "| load | req/s | p50 ms | p99 ms | max ms | non-2xx | socket errors |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for phase in alone beside one_scan noisy; do
  errors=$(for round in $(seq 1 "$rounds"); do f="$work/$phase-$round.txt"; echo $(( $(field "$f" err_connect) + $(field "$f" err_read) + $(field "$f" err_write) + $(field "$f" err_timeout) )); done | paste -sd+ | bc)
  case $phase in
    noisy) label="noisy (beside quiet)" ;;
    one_scan) label="quiet beside one psql scan in a loop (reference)" ;;
    *) label="quiet $phase" ;;
  esac
  echo "| $label | $(median "$phase" rps) | $(median "$phase" p50_ms) | $(median "$phase" p99_ms) | $(median "$phase" max_ms) | $(median "$phase" non2xx3xx) | $errors |"
done
echo
limits=$(cat "$work"/limit-*.txt | sort -g | awk '{ v[NR] = $1 } END { if (NR) print "median " v[int((NR + 1) / 2)] ", range " v[1] "-" v[NR] " (" NR " samples)"; else print "not sampled" }')
echo "- the server's in-flight limit for the cluster during the flood: $limits"
python3 - "$(median alone p99_ms)" "$(median beside p99_ms)" "$(median alone rps)" "$(median beside rps)" "$(median one_scan p99_ms)" "$(median one_scan rps)" <<'PY'
import sys
p99_alone, p99_beside, rps_alone, rps_beside, p99_scan, rps_scan = map(float, sys.argv[1:])
print(f"- reference, quiet beside one scan run outside the server: p99 {p99_scan:.2f} ms ({p99_scan / p99_alone:.2f}x alone), "
      f"throughput {rps_scan / rps_alone:.2f}x alone")
bound = 3 * p99_alone + 5
print(f"- quiet's p99 beside the flood: {p99_beside:.2f} ms, {p99_beside / p99_alone:.2f}x alone "
      f"(goal: under 3x + 5 ms = {bound:.2f} ms: {'met' if p99_beside < bound else 'NOT met'})")
print(f"- quiet's throughput beside the flood: {rps_beside / rps_alone:.2f}x alone "
      f"(goal: at least 0.5x: {'met' if rps_beside >= 0.5 * rps_alone else 'NOT met'})")
PY
