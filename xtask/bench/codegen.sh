#!/usr/bin/env bash
# Benchmark of the schema compiler: generation wall time for N = 100 and 1,000 tables, and the
# debug `cargo build` time and peak memory of a generated crate for N = 50, 200 and 500
# (dependencies prebuilt; COMPILE_SIZES to choose others).
# Usage: xtask/bench/codegen.sh [RUNS]   (RUNS per generation measurement, default 5)
# Prints a markdown table for BENCHMARKS.md. Writes only under target/bench-codegen.
set -euo pipefail
cd "$(dirname "$0")/../.."
source xtask/bench/common.sh
runs=${1:-5}
bench=target/bench-codegen
rm -rf "$bench" && mkdir -p "$bench"

cargo build --release -q -p xtask
xtask=target/release/xtask

median() { sort -n | awk '{ a[NR] = $1 } END { m = int((NR + 1) / 2); print a[m] }'; }

echo "| measurement | N tables | median | runs |"
echo "|---|---|---|---|"
for n in 100 1000; do
  "$xtask" synth-schema "$n" --out "$bench/schema-$n.toml"
  times=()
  for _ in $(seq 1 "$runs"); do
    rm -rf "$bench/gen-$n"
    start=$(date +%s.%N)
    "$xtask" gen --schema "$bench/schema-$n.toml" --out "$bench/gen-$n" --crate-name "bench-gen-$n" > /dev/null
    end=$(date +%s.%N)
    times+=("$(python3 -c "print($end - $start)")")
  done
  printf '| generation (parse, validate, render, format, write) | %s | %.3f s | %s |\n' "$n" "$(printf '%s\n' "${times[@]}" | median)" "$runs"
done

# Compile time: a throwaway workspace holding one generated crate, sharing the main target
# directory so that only the generated crate itself is compiled in the timed step.
for n in ${COMPILE_SIZES:-50 200 500}; do
  ws="$bench/ws-$n"
  mkdir -p "$ws"
  "$xtask" synth-schema "$n" --out "$bench/schema-c$n.toml"
  "$xtask" gen --schema "$bench/schema-c$n.toml" --out "$ws/generated" --crate-name "bench-compile-$n" > /dev/null
  bench_generated_workspace "$ws" "bench-compile-$n"
  CARGO_TARGET_DIR="$PWD/target" cargo build -q --manifest-path "$ws/Cargo.toml" 2> /dev/null || true
  CARGO_TARGET_DIR="$PWD/target" cargo clean -q --manifest-path "$ws/Cargo.toml" -p "bench-compile-$n"
  start=$(date +%s.%N)
  # Peak resident memory of the largest process of the build (rustc), in KB.
  CARGO_TARGET_DIR="$PWD/target" /usr/bin/time -f %M -o "$bench/peak-$n" \
    cargo build -q --manifest-path "$ws/Cargo.toml"
  end=$(date +%s.%N)
  seconds=$(python3 -c "print(f'{$end - $start:.1f}')")
  printf '| debug cargo build of the generated crate | %s | %s s (%s s a table), peak %s MB | 1 |\n' \
    "$n" "$seconds" "$(python3 -c "print(f'{$seconds / $n:.2f}')")" "$(( $(cat "$bench/peak-$n") / 1024 ))"
done
