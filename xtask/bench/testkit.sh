#!/usr/bin/env bash
# Benchmark of the test kit: a two-project setup with 1,000 fixture rows per project on the
# machine's PostgreSQL (TENANTAPI_TEST_POSTGRES, default 127.0.0.1:5432) and on SQLite, and
# DDL against template creation of one PostgreSQL database.
#   xtask/bench/testkit.sh [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release -q -p tenantapi-testkit --example setup_cost -- "${1:-5}"
