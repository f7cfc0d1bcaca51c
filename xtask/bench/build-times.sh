#!/usr/bin/env bash
# What a change costs the build: the debug build of the workspace's own crates (schema,
# runtime, generated crate, server; dependencies prebuilt) and of the generated crate alone,
# at two commits, alternating, in git worktrees, each with a target directory seeded with hard
# links to this repository's debug build (so that only the workspace's crates compile in the
# timed steps; one target directory for both would mix their crates, which share names).
#
#   xtask/bench/build-times.sh BEFORE [AFTER=HEAD] [ROUNDS=2]
#
# Prints a markdown table of the medians. Worktrees under target/bench-build, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
before=${1:?usage: build-times.sh BEFORE [AFTER] [ROUNDS]}
after=${2:-HEAD}
rounds=${3:-2}
root=$PWD
bench=$root/target/bench-build
mkdir -p "$bench"
# Without incremental compilation, a touched crate and everything above it compile in full.
export CARGO_INCREMENTAL=0

median() { sort -n | awk '{ a[NR] = $1 } END { m = int((NR + 1) / 2); print a[m] }'; }
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); python3 -c "print(f'{$end - $start:.1f}')"; }

declare -A trees
cleanup() {
  for tree in "${trees[@]}"; do git worktree remove --force "$tree" 2>/dev/null || true; done
  rm -rf "$bench"
}
trap cleanup EXIT
for rev in "$before" "$after"; do
  tree="$bench/$(git rev-parse --short "$rev")"
  git worktree remove --force "$tree" 2>/dev/null || true
  git worktree add --detach -q "$tree" "$rev"
  trees[$rev]=$tree
  mkdir -p "$tree/target"
  cp -al "$root/target/debug" "$tree/target/debug"
  (cd "$tree" && cargo build -q -p tenantapi-server)   # warm: the tree's own crates once
done

declare -A workspace generated
for round in $(seq 1 "$rounds"); do
  for rev in "$before" "$after"; do
    tree=${trees[$rev]}
    touch "$tree/crates/schema/src/lib.rs"
    workspace[$rev]+="$(cd "$tree" && seconds cargo build -p tenantapi-server) "
    touch "$tree/crates/generated/src/lib.rs"
    generated[$rev]+="$(cd "$tree" && seconds cargo build -p tenantapi-generated) "
  done
done

echo "| commit | workspace crates (s) | generated crate alone (s) | rounds |"
echo "|---|---:|---:|---:|"
for rev in "$before" "$after"; do
  printf '| %s | %s | %s | %s |\n' "$(git rev-parse --short "$rev")" \
    "$(tr ' ' '\n' <<<"${workspace[$rev]}" | grep . | median)" \
    "$(tr ' ' '\n' <<<"${generated[$rev]}" | grep . | median)" "$rounds"
done
