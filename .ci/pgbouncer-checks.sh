#!/usr/bin/env bash
# Serving through PgBouncer in session and transaction mode (tests/pgbouncer.rs): installs
# Debian's pgbouncer when it is missing, then runs those tests, which start their own PgBouncer
# processes on free loopback ports in front of the machine's PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -x /usr/sbin/pgbouncer ] && ! command -v pgbouncer >/dev/null; then
  echo "pgbouncer-checks: installing Debian's pgbouncer"
  apt-get install -y -q pgbouncer >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q pgbouncer >/dev/null; }
fi
cargo test -p tenantapi-tests --test pgbouncer -- --ignored
