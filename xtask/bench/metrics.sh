#!/usr/bin/env bash
# Cost of observability on the hottest request: GET by id with a token on a SQLite project
# (the fastest backend, so the relative cost is the largest), wrk on loopback, the same server
# binary in three modes, alternating rounds:
#   off      metrics = false, access_log = false
#   metrics  metrics = true (the default), access_log = false
#   logged   metrics = true, access_log = true, log_format = json (to a file)
#
#   xtask/bench/metrics.sh [DURATION=6] [CONNECTIONS=32] [ROUNDS=3]
#
# Prints each mode's median req/s, p99 and server CPU per request (utime + stime of the
# server process over the run, /proc) over ROUNDS and the ratios to `off`: on two cores shared
# with wrk, throughput moves by 10 % from run to run, CPU per request much less. State lives
# under /tmp/tenantapi-bench-metrics; the server runs on :8000.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-6}
connections=${2:-32}
rounds=${3:-3}
work=/tmp/tenantapi-bench-metrics
rm -rf "$work" && mkdir -p "$work"
url=http://127.0.0.1:8000/api/v1/acme/data_point/1/

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p tenantapi-server

export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
target/release/tenantapi project create acme --database-url "$work/acme.db" >/dev/null
python3 -c "
import sqlite3; db = sqlite3.connect('$work/acme.db')
db.executemany('INSERT INTO data_point (name) VALUES (?)', [(f'dp-{i}',) for i in range(1, 101)]); db.commit()"
target/release/tenantapi user add bench >/dev/null
target/release/tenantapi grant bench acme --role read >/dev/null
token=$(target/release/tenantapi token create bench --name bench)

server_pid=
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=; }
trap stop_server EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }

# One wrk run in one mode; prints "req/s p99_ms cpu_us_per_request".
measure() {
  local metrics=false access_log=false
  case $1 in metrics) metrics=true ;; logged) metrics=true access_log=true ;; esac
  TENANTAPI_METRICS=$metrics TENANTAPI_ACCESS_LOG=$access_log TENANTAPI_LOG_FORMAT=json RUST_LOG=info \
    target/release/tenantapi serve --bind 127.0.0.1:8000 2> "$work/server-$1.log" &
  server_pid=$!
  for _ in $(seq 1 50); do curl -fs -o /dev/null -H "Authorization: Token $token" "$url" && break; sleep 0.2; done
  local before after
  before=$(cpu_ticks)
  wrk --latency -t2 -c"$connections" -d"${duration}s" -H "Authorization: Token $token" "$url" > "$work/wrk.txt"
  after=$(cpu_ticks)
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF }
    / requests in / { requests = $1 }
    END { if (bad) { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 }
          printf "%.0f %.2f %.1f\n", rps, p99, ticks / hz * 1e6 / requests }' "$work/wrk.txt"
  stop_server
}

declare -A results
for round in $(seq 1 "$rounds"); do
  for mode in off metrics logged; do
    results[$mode]+="$(measure $mode) "
    echo "round $round $mode: $(echo "${results[$mode]}" | awk '{print $(NF-2), "req/s, p99", $(NF-1), "ms,", $NF, "us CPU/request"}')" >&2
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
column() { echo "${results[$1]}" | awk -v k="$2" '{ for (i = k; i <= NF; i += 3) print $i }' | median; }
off_rps=$(column off 1)
off_cpu=$(column off 3)
echo
echo "| mode | median req/s | / off | median p99 ms | median server CPU µs/request | / off |"
echo "|---|---:|---:|---:|---:|---:|"
for mode in off metrics logged; do
  rps=$(column $mode 1) p99=$(column $mode 2) cpu=$(column $mode 3)
  echo "| $mode | $rps | $(python3 -c "print(f'{$rps / $off_rps:.3f}')") | $p99 | $cpu | $(python3 -c "print(f'{$cpu / $off_cpu:.3f}')") |"
done
