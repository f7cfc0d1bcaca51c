#!/usr/bin/env bash
# Single-row POSTs to a SQLite project: wrk on loopback, DURATION seconds, CONNECTIONS
# connections, ROUNDS rounds; against one process writing the same rows to a copy of the same
# file in a loop (`BEGIN IMMEDIATE; SELECT version; INSERT ... RETURNING; COMMIT`, Python's
# sqlite3, the server's pragmas: WAL, synchronous=FULL, SQLite's default, which the server
# keeps so that a write answered 201 survives a power loss), measured in the same run.
#
#   xtask/bench/sqlite-writes.sh [DURATION=8] [CONNECTIONS=32] [ROUNDS=2]
#
# TENANTAPI_BIN=path serves with that binary instead of building this tree's. Our server runs
# on :8000, authentication off; state under /tmp/tenantapi-bench-sqlite.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-8}
connections=${2:-32}
rounds=${3:-2}
work=/tmp/tenantapi-bench-sqlite
rm -rf "$work" && mkdir -p "$work"

cleanup() { [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true; }
trap cleanup EXIT
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
tenantapi=${TENANTAPI_BIN:-}
if [ -z "$tenantapi" ]; then
  cargo build --release -q -p tenantapi-server
  tenantapi=target/release/tenantapi
fi

version=$(grep -o 'SCHEMA_VERSION: &str = "[^"]*"' crates/generated/src/lib.rs | cut -d'"' -f2)
python3 - crates/generated/src/ddl.rs "$work/template.db" "$version" <<'PY'
import json, re, sqlite3, sys
source = open(sys.argv[1]).read()
ddl = json.loads(re.search(r'pub const SQLITE: &str = (".*?");\n', source, re.S).group(1))
database = sqlite3.connect(sys.argv[2])
database.executescript(ddl)
database.execute("INSERT INTO schema_version (version) VALUES (?)", (sys.argv[3],))
database.executemany("INSERT INTO data_point (name, unit) VALUES (?, ?)",
                     [(f"dp-{i:05}", "kWh" if i % 2 else None) for i in range(1, 10001)])
database.commit()
database.execute("PRAGMA journal_mode = WAL")
PY

# The reference: one process, one connection, the statements of a guarded write, in a loop.
loop_rate() { # database seconds
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys, time
database = sqlite3.connect(sys.argv[1], isolation_level=None)
database.execute("PRAGMA busy_timeout = 5000")
database.execute("PRAGMA journal_mode = WAL")
database.execute("PRAGMA synchronous = FULL")
seconds, done, start = float(sys.argv[2]), 0, time.monotonic()
while time.monotonic() - start < seconds:
    database.execute("BEGIN IMMEDIATE")
    database.execute("SELECT CAST(version AS TEXT) FROM schema_version").fetchall()
    database.execute("INSERT INTO data_point (name, unit) VALUES (?, 'kWh') RETURNING id, name, unit, site_id, type",
                     (f"loop-{done}",)).fetchall()
    database.execute("COMMIT")
    done += 1
print(f"{done / (time.monotonic() - start):.0f}")
PY
}

results=$work/results.txt
: > "$results"
for round in $(seq 1 "$rounds"); do
  cp "$work/template.db" "$work/served.db"
  cp "$work/template.db" "$work/loop.db"
  rm -f "$work/platform.db"*
  export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
  "$tenantapi" project add prj_1 --database-url "$work/served.db" >/dev/null
  TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn "$tenantapi" serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
  echo $! > "$work/server.pid"
  for _ in $(seq 1 50); do curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/prj_1/data_point/1/ && break; sleep 0.2; done
  line=$(WRITE_KIND=post WRITE_PEER=tenantapi WRITE_THREADS=2 \
    wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s --latency -s xtask/bench/wrk/write.lua \
    http://127.0.0.1:8000 | grep '^RESULT')
  cleanup
  rm -f "$work/server.pid"
  sleep 1
  loop=$(loop_rate "$work/loop.db" "$duration")
  field() { echo "$line" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
  echo "$round $(field rps) $(field p50_ms) $(field p99_ms) $(field max_ms) $(field non2xx3xx) $(field err_timeout) $loop" >> "$results"
done

echo "## POST one row to a SQLite project: wrk ${duration} s × ${connections} connections, ${rounds} rounds"
echo
echo "| round | req/s | p50 ms | p99 ms | max ms | non-2xx, timeouts | one-process loop /s | ratio |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
while read -r round rps p50 p99 max bad timeouts loop; do
  echo "| $round | $rps | $p50 | $p99 | $max | $bad, $timeouts | $loop | $(python3 -c "print(f'{$rps / $loop:.2f}')")× |"
done < "$results"
