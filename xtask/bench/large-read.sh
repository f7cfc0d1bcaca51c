#!/usr/bin/env bash
# Memory of the largest reads: the demo's structure on SQLite with 200 sites x 100 data points
# x 100 readings (2,000,000 readings), served by the release build with authentication off.
# For each read: its status, body size and time, and the server's resident memory before, at
# its peak (VmHWM, reset before each read) and one second after; then the same read six at
# once. The reads are the one that took 2.8 GB before reads were bounded, and the largest the
# default bound (api.max_read_rows = 25,000) lets through in three shapes. The reference in the
# same run is the body itself: peak growth per byte of answer.
#
#   xtask/bench/large-read.sh
#
# State lives under /tmp/tenantapi-bench/large-read; the server (port 8000) is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=/tmp/tenantapi-bench/large-read
mkdir -p "$work"

cleanup() {
  [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true
}
trap cleanup EXIT

cargo build --release -q -p tenantapi-server

if [ ! -f "$work/project.db" ]; then
  python3 - crates/generated/src/ddl.rs crates/generated/src/lib.rs "$work/project.db" <<'PY'
import json, re, sqlite3, sys
ddl = json.loads(re.search(r'pub const SQLITE: &str = (".*?");\n', open(sys.argv[1]).read(), re.S).group(1))
version = re.search(r'SCHEMA_VERSION: &str = "([^"]*)"', open(sys.argv[2]).read()).group(1)
db = sqlite3.connect(sys.argv[3] + ".tmp")
db.executescript(ddl)
db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
db.executemany("INSERT INTO site (id, code, name, external_ref) VALUES (?, ?, ?, ?)",
               [(s, f"S{s}", f"site {s}", f"00000000-0000-4000-8000-{s:012}") for s in range(1, 201)])
db.executemany("INSERT INTO data_point (id, name, unit, site_id) VALUES (?, ?, 'kWh', ?)",
               [(p, f"point {p}", (p - 1) // 100 + 1) for p in range(1, 20001)])
db.executemany(
    "INSERT INTO reading (data_point_id, measured_at, value) VALUES (?, ?, ?)",
    ((p, f"2024-01-01 00:{r // 60:02}:{r % 60:02}.000", f"{r}.5") for p in range(1, 20001) for r in range(100)))
db.commit()
db.close()
PY
  mv "$work/project.db.tmp" "$work/project.db"
fi

rm -f "$work/platform.db"
export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
target/release/tenantapi project add lite --database-url "$work/project.db" >/dev/null
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn \
  target/release/tenantapi serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
echo $! > "$work/server.pid"
server=$(cat "$work/server.pid")
for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/lite/site/1/ && break; sleep 0.1; done

kib() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$server/status"; }
mib() { echo "scale=1; $1 / 1024" | bc; }

echo "| read | status | body | time | RSS before | peak | 1 s after | six at once: peak | after |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for path in \
  "site/?expand=data_point_set.reading_set&page_size=20" \
  "data_point/?expand=reading_set&page_size=247" \
  "site/?expand=data_point_set.reading_set&page_size=2" \
  "reading/?expand=data_point.site&page_size=1000" \
  "data_point/?expand=reading_set,site&page_size=120"; do
  url="http://127.0.0.1:8000/api/v1/lite/$path"
  before=$(kib VmRSS)
  echo 5 > "/proc/$server/clear_refs"
  read -r status bytes seconds < <(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' "$url")
  peak=$(kib VmHWM)
  sleep 1
  after=$(kib VmRSS)
  echo 5 > "/proc/$server/clear_refs"
  clients=()
  for _ in 1 2 3 4 5 6; do curl -s -o /dev/null "$url" & clients+=($!); done
  wait "${clients[@]}"
  six_peak=$(kib VmHWM)
  sleep 1
  six_after=$(kib VmRSS)
  echo "| \`$path\` | $status | $(mib $(( bytes / 1024 ))) MiB | ${seconds} s | $(mib "$before") MiB | $(mib "$peak") MiB | $(mib "$after") MiB | $(mib "$six_peak") MiB | $(mib "$six_after") MiB |"
done
