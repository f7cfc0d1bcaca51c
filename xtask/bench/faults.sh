#!/usr/bin/env bash
# Fault isolation benchmark: wrk load on three healthy PostgreSQL projects while a fourth
# project's database hangs (a loopback listener that accepts and never answers) and a fifth has
# its connections killed every 2 s; beside the same load with no fault (the fourth and fifth
# projects then healthy), in one run. The two phases alternate for ROUNDS rounds; the table gives
# each project's median over the rounds (requests, errors, p50/p99/max) and the healthy
# projects' p99 ratio.
#
#   xtask/bench/faults.sh [DURATION=8] [CONNECTIONS_PER_PROJECT=2] [ROUNDS=3]
#
# Five wrk processes share the two cores with the server and PostgreSQL; with many connections
# per project the machine saturates and both phases' tails are the CPU queue's, not the faults'.
# Uses ../shared/peers (PEERS_DIR to override) for its throwaway cluster on 127.0.0.1:55432 and
# its wrk report script. Our server (release build, default pool settings, authentication off
# like the other server benchmarks) runs on :8000. Everything it starts is stopped at the end;
# state lives under /tmp/tenantapi-bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
duration=${1:-8}
connections=${2:-2}
rounds=${3:-3}
peers=${PEERS_DIR:-$root/../shared/peers}
port=${PEER_PGPORT:-55432}
work=/tmp/tenantapi-bench/faults
mkdir -p "$work"
psql_cluster=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
"$peers/pg.sh" start >/dev/null
cargo build --release -q -p tenantapi-server
bin=${CARGO_TARGET_DIR:-target}/release/tenantapi

# Five project databases with the peers' 10,000 rows: three healthy, one standing in for the
# hung project and one for the killed project while there is no fault.
"$root/xtask/bench/prepare-postgres.sh" "$port"
for name in healthy1 healthy2 healthy3 spare4 spare5 killed; do
  "${psql_cluster[@]}" -d postgres -c "DROP DATABASE IF EXISTS tenantapi_bench_$name WITH (FORCE)" \
    -c "CREATE DATABASE tenantapi_bench_$name TEMPLATE tenantapi_bench"
done

# The hung database: accepts TCP connections, never answers.
hung_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$hung_port" <<'PY' &
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(1024)
held = []
while True:
    connection, _ = server.accept()
    held.append(connection)
PY
pids+=($!)

rm -f "$work/platform.db"
export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
database() { echo "postgres://postgres@127.0.0.1:$port/tenantapi_bench_$1"; }
for name in healthy1 healthy2 healthy3 spare4 spare5 killed; do
  "$bin" project add "$name" --database-url "$(database "$name")" >/dev/null
done
"$bin" project add hung --database-url "postgres://postgres@127.0.0.1:$hung_port/frozen" >/dev/null
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn "$bin" serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
echo $! > "$work/server.pid"
for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/healthy1/data_point/1/ && break; sleep 0.1; done

url() { echo "http://127.0.0.1:8000/api/v1/$1/data_point/1/"; }

# One wrk per project, all at once: `phase project...`; results in $work/<phase>-<project>.txt.
run_phase() {
  local phase=$1; shift
  local wrks=()
  for project in "$@"; do
    wrk -t1 -c"$connections" -d"${duration}s" --timeout 10s --latency -s "$peers/wrk_report.lua" \
      "$(url "$project")" > "$work/$phase-$project.txt" 2>&1 &
    wrks+=($!)
  done
  for pid in "${wrks[@]}"; do wait "$pid"; done
}

# Warm every pool.
for project in healthy1 healthy2 healthy3 spare4 spare5 killed; do
  wrk -t1 -c"$connections" -d2s "$(url "$project")" >/dev/null 2>&1
done
: > "$work/kills.txt"
for round in $(seq 1 "$rounds"); do
  run_phase "no_fault-$round" healthy1 healthy2 healthy3 spare4 spare5
  # The same load, with the fourth project hung and the fifth killed every 2 s.
  (
    while :; do
      sleep 2
      "${psql_cluster[@]}" -d postgres -Atc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'tenantapi_bench_killed' AND application_name = 'tenantapi'" >> "$work/kills.txt"
    done
  ) &
  killer=$!
  run_phase "fault-$round" healthy1 healthy2 healthy3 hung killed
  kill "$killer" 2>/dev/null || true
  wait "$killer" 2>/dev/null || true
done

field() { grep -o "$2=[0-9.]*" "$1" | head -n1 | cut -d= -f2; }
errors_of() { echo $(( $(field "$1" err_connect) + $(field "$1" err_read) + $(field "$1" err_write) + $(field "$1" err_timeout) )); }
# The median over the rounds of one measurement: `median phase project field`.
median() {
  for round in $(seq 1 "$rounds"); do
    if [ "$3" = errors ]; then errors_of "$work/$1-$round-$2.txt"; else field "$work/$1-$round-$2.txt" "$3"; fi
  done | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "## Fault isolation: wrk -t1 -c$connections -d${duration}s per project, five projects at once, median of $rounds rounds"
echo
echo "| phase | project | requests | req/s | non-2xx | socket errors | p50 ms | p99 ms | max ms |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for phase in no_fault fault; do
  if [ "$phase" = no_fault ]; then projects="healthy1 healthy2 healthy3 spare4 spare5"; else projects="healthy1 healthy2 healthy3 hung killed"; fi
  for project in $projects; do
    echo "| $phase | $project | $(median $phase $project requests) | $(median $phase $project rps) | $(median $phase $project non2xx3xx) | $(median $phase $project errors) | $(median $phase $project p50_ms) | $(median $phase $project p99_ms) | $(median $phase $project max_ms) |"
  done
done
echo
for project in healthy1 healthy2 healthy3; do
  ratios=$(for round in $(seq 1 "$rounds"); do
    python3 -c "print(f'{$(field "$work/fault-$round-$project.txt" p99_ms) / $(field "$work/no_fault-$round-$project.txt" p99_ms):.2f}')"
  done | paste -sd' ')
  echo "- $project: median p99 $(median no_fault $project p99_ms) ms without a fault, $(median fault $project p99_ms) ms with it; ratio per round: $ratios"
done
total_errors=0
for round in $(seq 1 "$rounds"); do for project in healthy1 healthy2 healthy3 killed; do
  file="$work/fault-$round-$project.txt"
  total_errors=$(( total_errors + $(field "$file" non2xx3xx) + $(errors_of "$file") ))
done; done
echo "- errors on the healthy and the killed projects under the fault, all rounds: $total_errors"
echo "- connections killed: $(paste -sd+ "$work/kills.txt" | bc) in $(wc -l < "$work/kills.txt") rounds of the killer"
