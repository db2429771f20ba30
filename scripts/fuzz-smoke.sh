#!/usr/bin/env bash
# Fuzz smoke test: builds the cargo-fuzz targets in fuzz/ with nightly and runs
# each for FUZZ_SECONDS (default 30), seeded from the checked-in fuzz/seeds/<target>/
# copied into a temporary corpus (the checked-in seeds never grow). Exits non-zero
# on any crash, hang (-timeout) or failed build. FUZZ_SECONDS=0 only replays the seeds.
#
# usage: scripts/fuzz-smoke.sh [TARGET...]      (default: every target in fuzz/Cargo.toml)
#   FUZZ_SECONDS=30   time per target
#   CARGO_TARGET_DIR  honoured (default fuzz/target)
# A crash is saved under fuzz/artifacts/<target>/; replay it with
#   cargo +nightly fuzz run -s none <target> fuzz/artifacts/<target>/crash-...
# and add it to ws-proto/tests/fuzz_regressions.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "fuzz-smoke: FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2 ;;
esac

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

# No sanitizer: the code under test has one unsafe line (ws-proto's UTF-8 ASCII
# fast path, covered by Miri in .ci/run); elsewhere ASan would find nothing that
# Rust's own checks (with debug assertions, which cargo-fuzz turns on) miss, and
# it would halve the executions.
echo "fuzz-smoke: building ${targets[*]}"
cargo +nightly fuzz build -s none

work="$(mktemp -d /tmp/fuzz-smoke-XXXXXX)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  mkdir -p "$corpus"
  if [ -d "fuzz/seeds/$t" ]; then
    cp -R "fuzz/seeds/$t/." "$corpus/"
  fi
  if [ "$SECONDS_PER_TARGET" -eq 0 ]; then
    limit=(-runs=0)
  else
    limit=(-max_total_time="$SECONDS_PER_TARGET")
  fi
  log="$work/$t.log"
  echo "fuzz-smoke: $t for ${SECONDS_PER_TARGET}s from $(find "$corpus" -type f | wc -l) seeds"
  if cargo +nightly fuzz run -s none "$t" "$corpus" -- "${limit[@]}" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
    echo "fuzz-smoke: $t ok, ${runs:-?} executions"
    passed=$((passed + 1))
  else
    echo "fuzz-smoke: $t FAILED; the end of its log:" >&2
    grep -v '^"' "$log" | tail -n 40 >&2
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
