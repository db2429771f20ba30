#!/usr/bin/env bash
# Instructions per operation of the hot paths (valgrind's callgrind), the numbers behind
# each hot-path change: (Ir with N operations - Ir with 0) / N.
# usage: scripts/icount.sh [CASE...]   (default: every case; N=ICOUNT_N, default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
N="${ICOUNT_N:-2000}"
# The bench profile (fat LTO, one codegen unit), as the timed benches.
cargo build -q --profile bench -p ws-benches --example icount
BIN="$TARGET/release/examples/icount"
CASES=("$@")
if [ ${#CASES[@]} -eq 0 ]; then mapfile -t CASES < <("$BIN" list); fi
ir() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
# Also kept in $TARGET/ws-bench/icount.txt, which scripts/bench-table.sh reads.
mkdir -p "$TARGET/ws-bench"
for c in "${CASES[@]}"; do
  base=$(ir "$c" 0)
  full=$(ir "$c" "$N")
  echo "$c $(( (full - base) / N )) instructions/op"
done | tee "$TARGET/ws-bench/icount.txt"
