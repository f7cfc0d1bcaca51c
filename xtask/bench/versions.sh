#!/usr/bin/env bash
# Build cost of serving two structure versions at once: the debug `cargo build` of the crate
# generated from an N-table description alone (default 50), against the crate generated from the
# same description plus an older version of it in `schema/previous/` that differs in 3 tables
# (each lacks one column). Dependencies are prebuilt; only the generated crate is compiled in a
# timed step, ROUNDS times each (default 3), alternating. Prints a markdown table for
# BENCHMARKS.md: medians and their ratio, and how many table modules the older version needed.
# Usage: xtask/bench/versions.sh [ROUNDS] [TABLES]
# Writes only under target/bench-versions.
set -euo pipefail
cd "$(dirname "$0")/../.."
source xtask/bench/common.sh
rounds=${1:-3}
tables=${2:-50}
bench=target/bench-versions
rm -rf "$bench" && mkdir -p "$bench"

cargo build --release -q -p xtask
xtask=target/release/xtask

median() { sort -n | awk '{ a[NR] = $1 } END { m = int((NR + 1) / 2); print a[m] }'; }

# The synthetic description has N - 1 entity tables and the version table.
"$xtask" synth-schema "$tables" --out "$bench/synthetic.toml"
mkdir -p "$bench/one/schema" "$bench/two/schema/previous"
python3 - "$bench" <<'PY'
import sys
bench = sys.argv[1]
text = open(f"{bench}/synthetic.toml").read()
older = text.replace('version = "synthetic-1"', 'version = "1"', 1)
newer = text.replace('version = "synthetic-1"', 'version = "2"', 1)
for table in ("entity_0001", "entity_0002", "entity_0003"):
    header = f'[[table]]\nname = "{table}"\n'
    assert header in newer, table
    newer = newer.replace(
        header,
        header + '\n[[table.column]]\nname = "note_added_in_2"\ntype = "text"\nnullable = true\n',
        1,
    )
open(f"{bench}/one/schema/project.toml", "w").write(newer)
open(f"{bench}/two/schema/project.toml", "w").write(newer)
open(f"{bench}/two/schema/previous/1.toml", "w").write(older)
PY

for variant in one two; do
  ws="$bench/ws-$variant"
  mkdir -p "$ws"
  "$xtask" gen --schema "$bench/$variant/schema/project.toml" --out "$ws/generated" \
    --crate-name "bench-versions-$variant" > /dev/null
  bench_generated_workspace "$ws" "bench-versions-$variant"
  # Dependencies, once, outside the timed steps.
  CARGO_TARGET_DIR="$PWD/target" cargo build -q --manifest-path "$ws/Cargo.toml"
done
older_modules=$(find "$bench/ws-two/generated/src/previous" -path '*/tables/*.rs' ! -name mod.rs | wc -l)

declare -A times
for _ in $(seq 1 "$rounds"); do
  for variant in one two; do
    ws="$bench/ws-$variant"
    CARGO_TARGET_DIR="$PWD/target" cargo clean -q --manifest-path "$ws/Cargo.toml" -p "bench-versions-$variant"
    start=$(date +%s.%N)
    CARGO_TARGET_DIR="$PWD/target" cargo build -q --manifest-path "$ws/Cargo.toml"
    end=$(date +%s.%N)
    times[$variant]+="$(python3 -c "print(f'{$end - $start:.2f}')") "
  done
done
one=$(printf '%s\n' ${times[one]} | median)
two=$(printf '%s\n' ${times[two]} | median)
echo "| debug build of the generated crate ($tables tables) | median | runs (s) |"
echo "|---|---|---|"
echo "| newest version alone | $one s | ${times[one]}|"
echo "| newest + an older version differing in 3 tables ($older_modules table modules of its own, $((tables - older_modules)) shared) | $two s | ${times[two]}|"
echo "| ratio | $(python3 -c "print(f'{$two / $one:.2f}')")× | |"
