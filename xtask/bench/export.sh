#!/usr/bin/env bash
# Whole-table export of 1,000,000 rows (`reading`), CSV and NDJSON, on PostgreSQL and SQLite:
# the server's resident memory while it streams (sampled every 20 ms) against its idle memory,
# and the time against the database's own export of the same rows in the same run
# (`\copy (SELECT ... ORDER BY id) TO STDOUT CSV HEADER` with psql, `sqlite3 -csv -header`).
# Medians of RUNS (default 3).
#
#   xtask/bench/export.sh [RUNS=3]
#
# Uses ../shared/peers's cluster on 127.0.0.1:55432 (PEERS_DIR, PEER_PGPORT to override). Our
# server runs on :8000 with authentication off; state under /tmp/tenantapi-bench/export; the
# server is stopped at the end. Installs Debian's sqlite3 when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
source xtask/bench/common.sh
runs=${1:-3}
work=/tmp/tenantapi-bench/export
bench_fresh_dir "$work"
bench_stop_server_on_exit "$work"

columns="id, data_point_id, measured_at, value, quality, raw, recorded_at"
bench_serve_million_readings "$work"

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$server/status"; }
median() { sort -n | awk '{ a[NR] = $1 } END { m = int((NR + 1) / 2); print a[m] }'; }

# Runs `curl URL` while sampling the server's RSS; prints "seconds peak_kb bytes".
export_once() {
  local url=$1
  python3 - "$server" "$url" <<'PY'
import subprocess, sys, threading, time
pid, url = sys.argv[1:]
peak = 0
done = False
def sample():
    global peak
    while not done:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS"):
                    peak = max(peak, int(line.split()[1]))
        time.sleep(0.02)
thread = threading.Thread(target=sample)
thread.start()
start = time.monotonic()
out = subprocess.run(["curl", "-fsS", "-o", "/dev/null", "-w", "%{size_download}", url],
                     capture_output=True, text=True, check=True).stdout
seconds = time.monotonic() - start
done = True
thread.join()
print(f"{seconds:.3f} {peak} {out}")
PY
}

timed() {
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.3f}')"
}

idle=$(rss_kb)
echo "| backend | format | tenantapi s (median of $runs) | MB sent | peak RSS above idle (MB) | database's own CSV export s | ratio (database / tenantapi) |"
echo "|---|---|---:|---:|---:|---:|---:|"
for backend in pg lite; do
  reference=()
  for _ in $(seq 1 "$runs"); do
    if [ "$backend" = pg ]; then
      reference+=("$(timed "${psql_cluster[@]}" -d tenantapi_bench -c "\\copy (SELECT $columns FROM reading ORDER BY id) TO STDOUT CSV HEADER")")
    else
      reference+=("$(timed sqlite3 -csv -header "$sqlite_db" "SELECT $columns FROM reading ORDER BY id")")
    fi
  done
  copy=$(printf '%s\n' "${reference[@]}" | median)
  for format in csv ndjson; do
    seconds=()
    peaks=()
    bytes=0
    for _ in $(seq 1 "$runs"); do
      read -r s peak size < <(export_once "http://127.0.0.1:8000/api/v1/$backend/reading/?format=$format")
      seconds+=("$s")
      peaks+=("$peak")
      bytes=$size
    done
    ours=$(printf '%s\n' "${seconds[@]}" | median)
    peak=$(printf '%s\n' "${peaks[@]}" | sort -n | tail -n 1)
    printf '| %s | %s | %s | %.0f | %.1f | %s | %.2f× |\n' \
      "$([ "$backend" = pg ] && echo PostgreSQL || echo SQLite)" "$format" "$ours" \
      "$(python3 -c "print($bytes / 1e6)")" "$(python3 -c "print(($peak - $idle) / 1024)")" \
      "$copy" "$(python3 -c "print($copy / $ours)")"
  done
done
echo
echo "idle RSS: $((idle / 1024)) MB (after one read on each project)"
