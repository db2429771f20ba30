#!/usr/bin/env bash
# Autobahn|Testsuite client conformance, categories 1-10 (12/13 are permessage-deflate,
# which the client does not offer yet). Exits non-zero on any FAILED or missing case.
#
# usage: scripts/autobahn.sh [CASES]      (default "1.*,2.*,...,10.*")
# Needs ../shared/autobahn beside the repository (run.sh installs its own venv).
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${1:-1.*,2.*,3.*,4.*,5.*,6.*,7.*,8.*,9.*,10.*}"
RUNNER="../shared/autobahn/run.sh"
[ -x "$RUNNER" ] || RUNNER="bash $RUNNER"
cargo build --release -q -p ws-transport-std --example autobahn_client
RESULTS="${AUTOBAHN_RESULTS:-$(mktemp /tmp/autobahn-ws-XXXXXX.json)}"
AUTOBAHN_PORT="${AUTOBAHN_PORT:-9001}" $RUNNER -a ws-rs -c "$CASES" -x '12.*,13.*' -o "$RESULTS" \
  -- "${CARGO_TARGET_DIR:-target}/release/examples/autobahn_client" '{url}' '{agent}'
