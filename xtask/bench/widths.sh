#!/usr/bin/env bash
# What wide tables cost the build: the generated crate alone (dependencies prebuilt), debug and
# release, for synthetic descriptions (`cargo xtask synth-schema`):
#   narrow      50 tables of 10 columns
#   + wide      the same plus one table each of 40, 100 and 400 columns (read by position)
#   500 mixed   500 tables of 7 columns, every tenth of 40 (debug only unless RELEASE_500=1)
#   500 plain   500 tables of 7 columns, for reference (debug only)
# Usage: xtask/bench/widths.sh [ROUNDS=1]   (median of ROUNDS builds each)
# Prints a markdown table for BENCHMARKS.md. Writes only under target/bench-widths.
set -euo pipefail
cd "$(dirname "$0")/../.."
source xtask/bench/common.sh
rounds=${1:-1}
bench=target/bench-widths
rm -rf "$bench" && mkdir -p "$bench"

cargo build --release -q -p xtask
xtask=target/release/xtask
median() { sort -n | awk '{ a[NR] = $1 } END { m = int((NR + 1) / 2); print a[m] }'; }

# One throwaway workspace per case, holding its generated crate, sharing the main target
# directory so that only the generated crate itself is compiled in the timed step.
prepare() { # name, synth-schema arguments...
  local name=$1; shift
  local ws="$bench/ws-$name"
  mkdir -p "$ws"
  "$xtask" synth-schema "$@" --out "$bench/schema-$name.toml"
  "$xtask" gen --schema "$bench/schema-$name.toml" --out "$ws/generated" \
    --crate-name "bench-widths-$name" > /dev/null
  bench_generated_workspace "$ws" "bench-widths-$name"
}

build_seconds() { # name, profile flag ("" or --release)
  local ws="$bench/ws-$1" times=()
  for _ in $(seq 1 "$rounds"); do
    CARGO_TARGET_DIR="$PWD/target" cargo clean -q $2 --manifest-path "$ws/Cargo.toml" \
      -p "bench-widths-$1"
    local start end
    start=$(date +%s.%N)
    CARGO_TARGET_DIR="$PWD/target" cargo build -q $2 --manifest-path "$ws/Cargo.toml"
    end=$(date +%s.%N)
    times+=("$(python3 -c "print(f'{$end - $start:.1f}')")")
  done
  printf '%s\n' "${times[@]}" | median
}

prepare narrow 50 --columns 10
prepare wide 50 --columns 10 --wide 40,100,400
prepare mixed500 500 --every-tenth 40
prepare plain500 500

# Dependencies of both profiles, untimed.
for profile in "" --release; do
  CARGO_TARGET_DIR="$PWD/target" cargo build -q $profile --manifest-path "$bench/ws-narrow/Cargo.toml"
done

narrow_debug=$(build_seconds narrow "")
narrow_release=$(build_seconds narrow --release)
wide_debug=$(build_seconds wide "")
wide_release=$(build_seconds wide --release)
mixed_debug=$(build_seconds mixed500 "")
plain_debug=$(build_seconds plain500 "")
if [ "${RELEASE_500:-0}" = 1 ]; then
  mixed_release=$(build_seconds mixed500 --release)
else
  mixed_release="not run"
fi
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

echo "| description | debug build (s) | release build (s) |"
echo "|---|---:|---:|"
echo "| 50 tables × 10 columns | $narrow_debug | $narrow_release |"
echo "| the same + tables of 40, 100 and 400 columns | $wide_debug ($(ratio "$wide_debug" "$narrow_debug")×) | $wide_release ($(ratio "$wide_release" "$narrow_release")×) |"
echo "| 500 tables × 7 columns, every tenth of 40 | $mixed_debug | $mixed_release |"
echo "| 500 tables × 7 columns | $plain_debug | |"
