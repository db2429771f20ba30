#!/usr/bin/env bash
# Autobahn|Testsuite client conformance, categories 1-13 (12 and 13 are
# permessage-deflate, which the client offers by default). Exits non-zero on any
# FAILED, NON-STRICT, UNIMPLEMENTED or missing case.
#
# usage: scripts/autobahn.sh [CASES]      (default "1.*,2.*,...,10.*,12.*,13.*")
#   AUTOBAHN_EXCLUDE=PATTERNS  cases left out, e.g. the 131072-byte compression cases
#   (about 70% of the time of 12/13): '12.*.10,12.*.15,12.*.16,12.*.17,12.*.18,13.*.10,...'
#   AUTOBAHN_PORT=9001, AUTOBAHN_RUNNER=../shared/autobahn/run.sh
# Needs ../shared/autobahn beside the repository, or AUTOBAHN_RUNNER=path/to/run.sh
# (run.sh installs its own venv).
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${1:-1.*,2.*,3.*,4.*,5.*,6.*,7.*,8.*,9.*,10.*,12.*,13.*}"
RUNNER="${AUTOBAHN_RUNNER:-../shared/autobahn/run.sh}"
[ -x "$RUNNER" ] || RUNNER="bash $RUNNER"
cargo build --release -q -p ws-transport-std --example autobahn_client
RESULTS="${AUTOBAHN_RESULTS:-$(mktemp /tmp/autobahn-ws-XXXXXX.json)}"
log="$(mktemp /tmp/autobahn-ws-XXXXXX.log)"
trap 'rm -f "$log"' EXIT
status=0
exclude=()
[ -z "${AUTOBAHN_EXCLUDE:-}" ] || exclude=(-x "$AUTOBAHN_EXCLUDE")
AUTOBAHN_PORT="${AUTOBAHN_PORT:-9001}" $RUNNER -a ws-rs -c "$CASES" "${exclude[@]}" -o "$RESULTS" \
  -- "${CARGO_TARGET_DIR:-target}/release/examples/autobahn_client" '{url}' '{agent}' \
  2>&1 | tee "$log" || status=$?
[ "$status" -eq 0 ] || exit "$status"
# The runner fails on FAILED and missing cases; NON-STRICT and UNIMPLEMENTED fail here.
summary="$(grep '^autobahn-client:' "$log" | tail -n1)"
nonstrict="$(sed -n 's/.* \([0-9]*\) non-strict.*/\1/p' <<<"$summary")"
unimplemented="$(sed -n 's/.* \([0-9]*\) unimplemented.*/\1/p' <<<"$summary")"
if [ "${nonstrict:-x}" != 0 ] || [ "${unimplemented:-x}" != 0 ]; then
  echo "autobahn: NON-STRICT or UNIMPLEMENTED cases (or no summary): $summary" >&2
  exit 1
fi
