# Sourced by the bench scripts (from the repository root): what several of them do alike.

# The peers' throwaway PostgreSQL cluster (../shared/peers; PEERS_DIR and PEER_PGPORT override).
peers=${PEERS_DIR:-$PWD/../shared/peers}
port=${PEER_PGPORT:-55432}

psql_cluster=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)

# On exit, stops the server whose pid is in $1/server.pid, if any.
bench_stop_server_on_exit() {
  bench_server_pid_file="$1/server.pid"
  trap '[ -f "$bench_server_pid_file" ] && kill "$(cat "$bench_server_pid_file")" 2>/dev/null || true' EXIT
}

# wrk, from Debian's package when it is missing.
bench_install_wrk() {
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
}

# wrk installed and the peers' cluster started.
bench_load_tools() {
  bench_install_wrk
  "$peers/pg.sh" start >/dev/null
}

# A fresh, empty state directory for one benchmark.
bench_fresh_dir() {
  rm -rf "$1" && mkdir -p "$1"
}

# Writes a throwaway workspace at $1 whose one member, generated/, is the generated crate
# named $2: the repository's dependency versions and lock file, and no debug info for the
# crate as for the repository's own generated crates. Built with CARGO_TARGET_DIR set to the
# main target directory, only the generated crate itself compiles.
bench_generated_workspace() {
  local ws=$1 crate=$2
  cat > "$ws/Cargo.toml" <<TOML
[workspace]
resolver = "3"
members = ["generated"]

[workspace.dependencies]
$(sed -n '/^\[workspace.dependencies\]/,$p' Cargo.toml | grep -E '^(actix-web|diesel|serde) ')

# As the repository's own generated crates (Cargo.toml).
[profile.dev.package.$crate]
debug = false
TOML
  cp Cargo.lock "$ws/Cargo.lock"
}

# Builds the release server; loads 1,000,000 readings (10,000 data points) into the peers'
# PostgreSQL (database tenantapi_bench) and into the SQLite file $1/bench.db; registers them as
# projects `pg` and `lite` and serves both on :8000 without authentication, after one read of
# each. Sets $server (its pid, also in $1/server.pid) and $sqlite_db. Installs Debian's sqlite3
# when it is missing.
bench_serve_million_readings() {
  local work=$1
  "$peers/pg.sh" start >/dev/null
  command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
  cargo build --release -q -p tenantapi-server
  "$PWD/xtask/bench/prepare-postgres.sh" "$port" >/dev/null
  echo "loading 1,000,000 readings into PostgreSQL and SQLite..." >&2
  "${psql_cluster[@]}" -d tenantapi_bench -c "INSERT INTO reading (data_point_id, measured_at, value, quality)
    SELECT 1 + g % 10000, TIMESTAMPTZ '2026-01-01' + g * INTERVAL '1 second', (g % 1000) + 0.5, 0
    FROM generate_series(1, 1000000) AS g" -c "VACUUM ANALYZE reading"
  sqlite_db=$work/bench.db
  target/release/tenantapi ddl --backend sqlite | sqlite3 "$sqlite_db"
  sqlite3 "$sqlite_db" <<'SQL'
INSERT INTO site (id, code, name, external_ref) VALUES (1, 'S1', 'Site', '11111111-2222-4333-8444-555555555555');
WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 10000)
INSERT INTO data_point (id, name, site_id) SELECT g, 'point ' || g, 1 FROM n;
WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 1000000)
INSERT INTO reading (data_point_id, measured_at, value, quality)
  SELECT 1 + g % 10000, strftime('%Y-%m-%d %H:%M:%f', '2026-01-01', '+' || g || ' seconds'), (g % 1000) + 0.5, 0 FROM n;
SQL
  export TENANTAPI_PLATFORM_DATABASE_URL=$work/platform.db
  target/release/tenantapi project add pg --database-url "postgres://postgres@127.0.0.1:$port/tenantapi_bench" >/dev/null
  target/release/tenantapi project add lite --database-url "$sqlite_db" >/dev/null
  TENANTAPI_AUTH_REQUIRED=false RUST_LOG=warn target/release/tenantapi serve --bind 127.0.0.1:8000 > "$work/server.log" 2>&1 &
  server=$!
  echo "$server" > "$work/server.pid"
  for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/pg/reading/1/ && break; sleep 0.1; done
  curl -fs -o /dev/null http://127.0.0.1:8000/api/v1/lite/reading/1/
}
