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
