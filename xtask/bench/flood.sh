#!/usr/bin/env bash
# Token flood benchmark: a valid user's GET by id latency while another client sends requests
# with invented tokens (each one new, of the form of issued tokens: the worst case, since
# anything else is refused without a lookup), beside the same valid load with no flood, alternating
# rounds, one server. The flood is paced (FLOOD_CONNECTIONS connections, one request per
# millisecond each: about 4,000 a second by default, i.e. 20,000 in five seconds) so that what
# is measured is what invented tokens cost the valid user, not a second saturating load.
#
#   xtask/bench/flood.sh [DURATION=8] [ROUNDS=3] [VALID_CONNECTIONS=4] [FLOOD_CONNECTIONS=4]
#
# Release build, authentication on (auth.cache_seconds default), one PostgreSQL project on
# ../shared/peers' cluster (127.0.0.1:55432, 10,000 rows), our server on :8000. Prints a
# markdown table: per phase the valid user's median req/s, p50 and p99 over the rounds, and the
# flood's requests and statuses. State under /tmp/tenantapi-bench-flood; everything started is
# stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
source xtask/bench/common.sh
duration=${1:-8}
rounds=${2:-3}
valid_connections=${3:-4}
flood_connections=${4:-4}
work=/tmp/tenantapi-bench-flood
bench_fresh_dir "$work"
url=http://127.0.0.1:8000/api/v1/prj_1/data_point/1/

bench_load_tools
cargo build --release -q -p tenantapi-server
bin=${CARGO_TARGET_DIR:-target}/release/tenantapi
xtask/bench/prepare-postgres.sh "$port"

export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
"$bin" project add prj_1 --database-url "postgres://postgres@127.0.0.1:$port/tenantapi_bench" >/dev/null
"$bin" user add bench >/dev/null
"$bin" grant bench prj_1 --role read >/dev/null
token=$("$bin" token create bench --name bench)

RUST_LOG=error "$bin" serve --bind 127.0.0.1:8000 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs -o /dev/null -H "Authorization: Token $token" "$url" && break; sleep 0.2; done

# Each flood request carries a token never seen before; one per millisecond per connection.
cat > "$work/flood.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  math.randomseed(os.time())
  counter, s401, s429, other = 0, 0, 0, 0
end
function request()
  counter = counter + 1
  -- Of the form of issued tokens (the marker and 40 hex), so that each costs a lookup.
  local token = string.format("tap_%08x%08x%08x%08x%08x", math.random(0, 0x7fffffff),
    math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), counter)
  return wrk.format("GET", nil, { ["Authorization"] = "Token " .. token })
end
function delay() return 1 end
function response(status)
  if status == 401 then s401 = s401 + 1 elseif status == 429 then s429 = s429 + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, thread in ipairs(threads) do
    a, b, c = a + thread:get("s401"), b + thread:get("s429"), c + thread:get("other")
  end
  io.write(string.format("flood: %d requests in %.1f s: %d answered 401, %d 429, %d other\n",
    summary.requests, summary.duration / 1e6, a, b, c))
end
LUA

# One valid run; prints "req/s p50_ms p99_ms".
valid() {
  wrk -t1 -c"$valid_connections" -d"${duration}s" --latency -H "Authorization: Token $token" "$url" > "$work/valid.txt"
  local rps p50 p99
  to_ms='{ v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }'
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/valid.txt")
  p50=$(awk "\$1 == \"50%\" $to_ms" "$work/valid.txt")
  p99=$(awk "\$1 == \"99%\" $to_ms" "$work/valid.txt")
  echo "$rps $p50 $p99"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

: > "$work/quiet.txt"; : > "$work/flooded.txt"; : > "$work/floods.txt"
for _ in $(seq 1 "$rounds"); do
  valid >> "$work/quiet.txt"
  wrk -t1 -c"$flood_connections" -d"${duration}s" -s "$work/flood.lua" "$url" > "$work/flood.txt" &
  flood_pid=$!
  valid >> "$work/flooded.txt"
  wait "$flood_pid"
  grep '^flood:' "$work/flood.txt" >> "$work/floods.txt"
done

row() {
  local file=$1 name=$2
  echo "| $name | $(cut -d' ' -f1 "$file" | median) | $(cut -d' ' -f2 "$file" | median) | $(cut -d' ' -f3 "$file" | median) |"
}
echo "## Token flood: valid GET by id (${valid_connections} connections) with and without invented tokens (${flood_connections} connections, 1 per ms each), ${duration} s x ${rounds} rounds"
echo
echo "| phase | valid req/s | valid p50 ms | valid p99 ms |"
echo "|---|---:|---:|---:|"
row "$work/quiet.txt" "no flood"
row "$work/flooded.txt" "flood"
echo
echo "Per round (req/s p50 p99), no flood: $(tr '\n' ';' < "$work/quiet.txt")"
echo "Per round (req/s p50 p99), flood: $(tr '\n' ';' < "$work/flooded.txt")"
sed 's/^/- /' "$work/floods.txt"
