#!/usr/bin/env bash
# Many SQLite projects on one server: 1,000 copies of one project file (100 data points each),
# GET by id on one project, then round-robin over all of them (wrk, Lua script), authentication
# off. Reports the time from `serve` to listening, resident memory idle and after the
# round-robin, throughput of both loads, and the SQLite connections the server holds.
#
#   xtask/bench/thousand.sh [PROJECTS=1000] [DURATION=8] [CONNECTIONS=32]
#
# State lives under /tmp/tenantapi-bench/thousand; our server (release build) runs on :8000.
# Extra settings for the server can be passed as TENANTAPI_* environment variables.
set -euo pipefail
cd "$(dirname "$0")/../.."
projects=${1:-1000}
duration=${2:-8}
connections=${3:-32}
work=/tmp/tenantapi-bench/thousand
rm -rf "$work"
mkdir -p "$work/projects"

cleanup() {
  [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p tenantapi-server

# One project file with the generated structure and 100 rows; the projects are copies of it.
version=$(grep -o 'SCHEMA_VERSION: &str = "[^"]*"' crates/generated/src/lib.rs | cut -d'"' -f2)
python3 - crates/generated/src/ddl.rs "$work/template.db" "$version" <<'PY'
import json, re, sqlite3, sys
source = open(sys.argv[1]).read()
ddl = json.loads(re.search(r'pub const SQLITE: &str = (".*?");\n', source, re.S).group(1))
database = sqlite3.connect(sys.argv[2])
database.executescript(ddl)
database.execute("INSERT INTO schema_version (version) VALUES (?)", (sys.argv[3],))
database.executemany("INSERT INTO data_point (name) VALUES (?)", [(f"dp-{i}",) for i in range(1, 101)])
database.commit()
PY
for number in $(seq 1 "$projects"); do cp "$work/template.db" "$work/projects/p$number.db"; done

export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
target/release/tenantapi migrate >/dev/null
python3 - "$work/platform.db" "$work/projects" "$projects" <<'PY'
import sqlite3, sys
platform = sqlite3.connect(sys.argv[1])
platform.executemany(
    "INSERT INTO projects (name, database_url) VALUES (?, ?)",
    [(f"p{n}", f"{sys.argv[2]}/p{n}.db") for n in range(1, int(sys.argv[3]) + 1)],
)
platform.commit()
PY

started=$(date +%s.%N)
TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn target/release/tenantapi serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
server=$!
echo $server > "$work/server.pid"
until curl -fs -o /dev/null http://127.0.0.1:8000/healthz; do sleep 0.02; done
listening=$(python3 -c "print(f'{$(date +%s.%N) - $started:.2f}')")
rss() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$server/status"; }
open_files() { { find "/proc/$server/fd" -lname "$work/projects/*.db" 2>/dev/null || true; } | wc -l; }
# The first structure-version pass runs beside serving; wait for it (every project checked).
for _ in $(seq 1 600); do
  curl -fs http://127.0.0.1:8000/readyz | grep -q unchecked || break
  sleep 0.1
done
checked=$(python3 -c "print(f'{$(date +%s.%N) - $started:.2f}')")
sleep 1
idle_rss=$(rss)

cat > "$work/round_robin.lua" <<LUA
local projects = $projects
local next_project = 0
request = function()
  next_project = next_project % projects + 1
  return wrk.format(nil, "/api/v1/p" .. next_project .. "/data_point/1/")
end
LUA
measure() { # url-or-script
  local args=(--latency -t2 -c"$connections" -d"${duration}s")
  if [ "$1" = round_robin ]; then args+=(-s "$work/round_robin.lua" http://127.0.0.1:8000/); else args+=("$1"); fi
  wrk "${args[@]}" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.2f %d", rps, p99, bad }'
}

read -r one_rps one_p99 one_bad <<<"$(measure http://127.0.0.1:8000/api/v1/p1/data_point/1/)"
one_rss=$(rss)
read -r rr_rps rr_p99 rr_bad <<<"$(measure round_robin)"
rr_rss=$(rss)
rr_files=$(open_files)
sleep 2
settled_rss=$(rss)
# What the periodic structure-version checks cost while no request comes: the server's CPU
# over one whole check period (`version_check_seconds`, 10 s by default).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
period=${TENANTAPI_VERSION_CHECK_SECONDS:-10}
before=$(cpu_ticks)
sleep "$period"
idle_cpu=$(python3 -c "print(f'{($(cpu_ticks) - $before) / $(getconf CLK_TCK) / $period * 100:.1f}')")

echo
echo "## $projects SQLite projects on one server, wrk -t2 -c$connections -d${duration}s, GET by id"
echo
echo "| load | req/s | p99 ms | non-2xx | resident MB after |"
echo "|---|---:|---:|---:|---:|"
echo "| idle, after start | | | | $idle_rss |"
echo "| one project | $one_rps | $one_p99 | $one_bad | $one_rss |"
echo "| round-robin over $projects | $rr_rps | $rr_p99 | $rr_bad | $rr_rss |"
echo
echo "- listening $listening s after \`serve\` started; every project's structure version checked after $checked s"
echo "- round-robin / one project: $(python3 -c "print(f'{$rr_rps / $one_rps:.2f}')")"
echo "- project database files open after the round-robin: $rr_files; resident 2 s later: $settled_rss MB"
echo "- idle, the periodic version checks of $projects projects use $idle_cpu % of one core"
