#!/usr/bin/env bash
# One read on one project, two builds alternating: the happy path's cost of a change (e.g. the
# commit before it, built in a worktree of its own, against this tree).
#
#   xtask/bench/compare-builds.sh BEFORE_BIN AFTER_BIN [ROUNDS=2] [DURATION=8]
#
# By default GET data_point/1/ on a PostgreSQL database made by prepare-postgres.sh; DATABASE_URL
# (e.g. a SQLite file made by large-read.sh) and READ (the path after /api/v1/p/) choose others.
#
# Uses ../shared/peers's cluster on 127.0.0.1:55432 (PEERS_DIR to override) and wrk's report
# script; the server (authentication off, default settings) runs on :8000; wrk -t2 -c32 after
# a 3 s warm-up. State under /tmp/tenantapi-bench/compare; the server is stopped after each run.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
before=$1
after=$2
rounds=${3:-2}
duration=${4:-8}
peers=${PEERS_DIR:-$root/../shared/peers}
port=${PEER_PGPORT:-55432}
work=/tmp/tenantapi-bench/compare
mkdir -p "$work"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
"$peers/pg.sh" start >/dev/null
database_url=${DATABASE_URL:-}
if [ -z "$database_url" ]; then
  "$root/xtask/bench/prepare-postgres.sh" "$port" >/dev/null
  database_url="postgres://postgres@127.0.0.1:$port/tenantapi_bench"
fi
url="http://127.0.0.1:8000/api/v1/p/${READ:-data_point/1/}"
run() {
  rm -f "$work/platform.db"
  export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
  "$1" project add p --database-url "$database_url" >/dev/null
  TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn "$1" serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
  local server=$!
  for _ in $(seq 1 100); do curl -fs -o /dev/null "$url" && break; sleep 0.1; done
  wrk -t2 -c32 -d3s "$url" >/dev/null
  wrk -t2 -c32 -d"${duration}s" --latency -s "$peers/wrk_report.lua" "$url" | grep RESULT
  kill "$server"; wait "$server" 2>/dev/null || true
  sleep 1
}
echo "| round | build | req/s | p50 ms | p99 ms |"
echo "|---:|---|---:|---:|---:|"
for round in $(seq 1 "$rounds"); do
  for build in before after; do
    bin=$([ "$build" = before ] && echo "$before" || echo "$after")
    result=$(run "$bin")
    field() { echo "$result" | grep -o "$1=[0-9.]*" | cut -d= -f2; }
    echo "| $round | $build | $(field rps) | $(field p50_ms) | $(field p99_ms) |"
  done
done
