#!/usr/bin/env bash
# Creates database tenantapi_bench on the benchmark cluster (127.0.0.1:${1:-55432}): the generated
# PostgreSQL structure, the version row, and the peers' 10,000 data_point rows
# (dp-00001 .. dp-10000, unit kWh for odd ids, NULL for even ones). Recreated on every run.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${1:-55432}
work=/tmp/tenantapi-bench
mkdir -p "$work"
psql_cluster=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
"${psql_cluster[@]}" -d postgres -c "DROP DATABASE IF EXISTS tenantapi_bench WITH (FORCE)"
"${psql_cluster[@]}" -d postgres -c "CREATE DATABASE tenantapi_bench"
python3 - crates/generated/src/ddl.rs > "$work/ddl.sql" <<'PY'
import re, sys, json
source = open(sys.argv[1]).read()
literal = re.search(r'pub const POSTGRES: &str = (".*?");\n', source, re.S).group(1)
print(json.loads(literal))
PY
"${psql_cluster[@]}" -d tenantapi_bench -f "$work/ddl.sql"
version=$(grep -o 'SCHEMA_VERSION: &str = "[^"]*"' crates/generated/src/lib.rs | cut -d'"' -f2)
"${psql_cluster[@]}" -d tenantapi_bench -c "INSERT INTO schema_version (version) VALUES ('$version')"
"${psql_cluster[@]}" -d tenantapi_bench -c "INSERT INTO data_point (name, unit) SELECT 'dp-' || lpad(i::text, 5, '0'), CASE WHEN i % 2 = 1 THEN 'kWh' END FROM generate_series(1, 10000) AS i; ANALYZE;"
