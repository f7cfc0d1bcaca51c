#!/usr/bin/env bash
# Benchmark of authentication: GET by id with a token (auth.required = true) against the same
# request with authentication switched off (auth.required = false), same server binary, same
# PostgreSQL project (10,000 rows on ../shared/peers' cluster), alternating runs.
#
#   xtask/bench/auth.sh [DURATION=10] [CONNECTIONS=32] [ROUNDS=3]
#
# Prints the median req/s and p99 of each mode over ROUNDS and their ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
source xtask/bench/common.sh
duration=${1:-10}
connections=${2:-32}
rounds=${3:-3}
work=/tmp/tenantapi-bench-auth
bench_fresh_dir "$work"
url=http://127.0.0.1:8000/api/v1/prj_1/data_point/1/

bench_load_tools
cargo build --release -q -p tenantapi-server
xtask/bench/prepare-postgres.sh "$port"

export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
target/release/tenantapi project add prj_1 --database-url "postgres://postgres@127.0.0.1:$port/tenantapi_bench" >/dev/null
target/release/tenantapi user add bench >/dev/null
target/release/tenantapi grant bench prj_1 --role read >/dev/null
token=$(target/release/tenantapi token create bench --name bench)

server_pid=
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=; }
trap stop_server EXIT

# One wrk run; prints "req/s p99_ms".
measure() {
  local required=$1; shift
  TENANTAPI_AUTH_REQUIRED=$required RUST_LOG=error target/release/tenantapi serve --bind 127.0.0.1:8000 &
  server_pid=$!
  for _ in $(seq 1 50); do curl -fs -o /dev/null "$@" "$url" && break; sleep 0.2; done
  wrk -t2 -c"$connections" -d"${duration}s" --latency "$@" "$url" > "$work/wrk.txt"
  stop_server
  local rps p99
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }' "$work/wrk.txt")
  echo "$rps $p99"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

: > "$work/with.txt"; : > "$work/without.txt"
for _ in $(seq 1 "$rounds"); do
  measure true -H "Authorization: Token $token" >> "$work/with.txt"
  measure false >> "$work/without.txt"
done
with_rps=$(cut -d' ' -f1 "$work/with.txt" | median); with_p99=$(cut -d' ' -f2 "$work/with.txt" | median)
without_rps=$(cut -d' ' -f1 "$work/without.txt" | median); without_p99=$(cut -d' ' -f2 "$work/without.txt" | median)
echo "| GET by id, ${connections} connections, ${duration} s × ${rounds} rounds | median req/s | median p99 ms |"
echo "|---|---:|---:|"
echo "| authentication off (auth.required = false) | $without_rps | $without_p99 |"
echo "| token authentication, read grant | $with_rps | $with_p99 |"
python3 -c "print(f'| ratio (with / without) | {float(\"$with_rps\") / float(\"$without_rps\"):.3f} | |')"
