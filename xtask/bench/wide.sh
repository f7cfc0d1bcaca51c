#!/usr/bin/env bash
# A large structure served to many projects: the server built for a synthetic description of
# TABLES tables (`cargo xtask synth-schema`), serving PROJECTS SQLite projects created from its
# DDL. Reports the release build time of that server, the time from `serve` to listening and to
# every project checked, resident memory idle, after one request to every project, and after
# requests to every table of every project (each SQLite connection then holds the parsed
# schema of every table), and the GET by id rate on one table against the repository's own
# server on its own structure in the same run.
#
#   xtask/bench/wide.sh [TABLES=500] [PROJECTS=100] [DURATION=5]
#
# Works on a copy of the committed repository under target/bench-wide (the description
# replaced, the crates generated again) with a target directory of its own: cargo names a
# workspace member's artifacts without its path, so a shared one would have the copy's crates
# overwrite the repository's (dependencies are therefore built twice). Our servers run on
# :8000; authentication off.
set -euo pipefail
cd "$(dirname "$0")/../.."
tables=${1:-500}
projects=${2:-100}
duration=${3:-5}
root=$PWD
work=$root/target/bench-wide
rm -rf "$work/repo" "$work/projects"
mkdir -p "$work/projects"

cleanup() {
  [ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null || true
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p xtask -p tenantapi-server
cp target/release/tenantapi "$work/tenantapi-own"

# The copy, with the synthetic description in place of the repository's.
git archive HEAD | tar -x -C "$work" --one-top-level=repo
target/release/xtask synth-schema "$tables" --out "$work/repo/schema/project.toml"
# The copy's own xtask: it writes into the workspace it was built in.
export CARGO_TARGET_DIR=$work/target
(cd "$work/repo" && cargo run -q -p xtask -- gen >/dev/null)
# Dependencies first, so that the timed build is the server's own crates.
(cd "$work/repo" && cargo build --release -q -p tenantapi-runtime)
started=$(date +%s)
(cd "$work/repo" && cargo build --release -q -p tenantapi-server)
build_seconds=$(( $(date +%s) - started ))
cp "$work/target/release/tenantapi" "$work/tenantapi-wide"
unset CARGO_TARGET_DIR

# PROJECTS copies of one SQLite file with the structure, its version and one row a table.
version=$(grep -o 'SCHEMA_VERSION: &str = "[^"]*"' "$work/repo/crates/generated/src/lib.rs" | cut -d'"' -f2)
python3 - "$work/repo/crates/generated/src/ddl.rs" "$work/template.db" "$version" "$tables" <<'PY'
import json, re, sqlite3, sys
source = open(sys.argv[1]).read()
ddl = json.loads(re.search(r'pub const SQLITE: &str = (".*?");\n', source, re.S).group(1))
database = sqlite3.connect(sys.argv[2])
database.executescript(ddl)
database.execute("INSERT INTO schema_version (version) VALUES (?)", (sys.argv[3],))
for number in range(int(sys.argv[4])):
    database.execute(f'INSERT INTO "entity_{number:04}" (name) VALUES (?)', (f"row-{number}",))
database.commit()
PY
for number in $(seq 1 "$projects"); do cp "$work/template.db" "$work/projects/p$number.db"; done
export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
"$work/tenantapi-wide" migrate >/dev/null
python3 - "$work/platform.db" "$work/projects" "$projects" <<'PY'
import sqlite3, sys
platform = sqlite3.connect(sys.argv[1])
platform.executemany(
    "INSERT INTO projects (name, database_url) VALUES (?, ?)",
    [(f"p{n}", f"{sys.argv[2]}/p{n}.db") for n in range(1, int(sys.argv[3]) + 1)],
)
platform.commit()
PY

serve() { # binary
  TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn "$1" serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
  server=$!
  echo $server > "$work/server.pid"
}
rss() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$server/status"; }
seconds_since() { python3 -c "print(f'{$(date +%s.%N) - $1:.2f}')"; }
rate() { # url
  wrk --latency -t2 -c32 -d"${duration}s" "$1" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.2f %d", rps, p99, bad }'
}

start=$(date +%s.%N)
serve "$work/tenantapi-wide"
until curl -fs -o /dev/null http://127.0.0.1:8000/healthz; do sleep 0.02; done
listening=$(seconds_since "$start")
for _ in $(seq 1 600); do
  curl -fs http://127.0.0.1:8000/readyz | grep -q unchecked || break
  sleep 0.1
done
checked=$(seconds_since "$start")
sleep 1
idle=$(rss)
for number in $(seq 1 "$projects"); do
  curl -fs -o /dev/null "http://127.0.0.1:8000/api/v1/p$number/entity_0000/1/"
done
one_table=$(rss)
python3 - "$projects" "$tables" <<'PY'
import sys, urllib.request
projects, tables = int(sys.argv[1]), int(sys.argv[2])
for project in range(1, projects + 1):
    for table in range(tables):
        url = f"http://127.0.0.1:8000/api/v1/p{project}/entity_{table:04}/?page_size=1"
        with urllib.request.urlopen(url) as response:
            assert response.status == 200, url
PY
every_table=$(rss)
read -r wide_rps wide_p99 wide_bad <<<"$(rate http://127.0.0.1:8000/api/v1/p1/entity_0250/1/)"
cleanup
sleep 0.5

# The repository's own server and structure, one project, for reference.
python3 - crates/generated/src/ddl.rs "$work/own.db" "$(grep -o 'SCHEMA_VERSION: &str = "[^"]*"' crates/generated/src/lib.rs | cut -d'"' -f2)" <<'PY'
import json, re, sqlite3, sys
source = open(sys.argv[1]).read()
ddl = json.loads(re.search(r'pub const SQLITE: &str = (".*?");\n', source, re.S).group(1))
database = sqlite3.connect(sys.argv[2])
database.executescript(ddl)
database.execute("INSERT INTO schema_version (version) VALUES (?)", (sys.argv[3],))
database.execute("INSERT INTO data_point (name) VALUES ('one')")
database.commit()
PY
export TENANTAPI_PLATFORM_DATABASE_URL=$work/own-platform.db
"$work/tenantapi-own" project add own --database-url "$work/own.db" >/dev/null
serve "$work/tenantapi-own"
until curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/own/data_point/1/; do sleep 0.05; done
read -r own_rps own_p99 own_bad <<<"$(rate http://127.0.0.1:8000/api/v1/own/data_point/1/)"

echo
echo "## $tables tables × $projects SQLite projects on one server"
echo
echo "- release build of the server for $tables tables (dependencies and the runtime prebuilt): $build_seconds s"
echo "- listening $listening s after \`serve\` started; every project checked after $checked s"
echo "- resident: $idle MB idle; $one_table MB after one request to every project; $every_table MB after a request to each of the $tables tables of every project"
echo "- GET by id, one project, wrk -t2 -c32 -d${duration}s: $wide_rps req/s (p99 $wide_p99 ms, $wide_bad non-2xx) against $own_rps req/s (p99 $own_p99 ms, $own_bad non-2xx) for the repository's own structure, same run: $(python3 -c "print(f'{$wide_rps / $own_rps:.2f}')")×"
