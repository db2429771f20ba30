#!/usr/bin/env bash
# Autobahn|Testsuite client cases over wss://: the fuzzing server (plain) gets a
# TLS front (scripts/interop/tls_front.py, a CA made at run time with trustme),
# and autobahn_client connects to wss://127.0.0.1:FRONT trusting that CA.
#
# usage: scripts/autobahn-wss.sh [CASES]      (default "1.*,2.*,...,10.*")
# Needs ../shared/autobahn beside the repository, and the Python venv that
# scripts/interop.sh installs under scripts/.peers/ (websockets, trustme).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--client" ]; then
  # Run by run.sh as the client command: $2 = ws://127.0.0.1:PORT, $3 = agent.
  upstream="${2##*:}"
  work=$(mktemp -d /tmp/ws-autobahn-wss-XXXXXX)
  scripts/.peers/venv/bin/python scripts/interop/tls_front.py "$work/ca.pem" "$upstream" \
    >"$work/port" 2>"$work/front.log" &
  front=$!
  trap 'kill "$front" 2>/dev/null || true; wait "$front" 2>/dev/null || true; rm -rf "$work"' EXIT
  port=""
  for _ in $(seq 1 100); do
    port=$(head -n1 "$work/port" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$work/front.log" >&2; exit 1; }
  AUTOBAHN_CA="$work/ca.pem" "${CARGO_TARGET_DIR:-target}/release/examples/autobahn_client" \
    "wss://127.0.0.1:$port" "$3"
  exit $?
fi
CASES="${1:-1.*,2.*,3.*,4.*,5.*,6.*,7.*,8.*,9.*,10.*}"
RUNNER="${AUTOBAHN_RUNNER:-../shared/autobahn/run.sh}"
[ -x "$RUNNER" ] || RUNNER="bash $RUNNER"
if ! scripts/.peers/venv/bin/python -c 'import trustme' 2>/dev/null; then
  mkdir -p scripts/.peers
  timeout 120 python3 -m venv scripts/.peers/venv
  timeout 300 scripts/.peers/venv/bin/pip install -q 'websockets>=13,<16' 'trustme>=1,<2'
fi
cargo build --release -q -p ws-transport-std --example autobahn_client
RESULTS="${AUTOBAHN_RESULTS:-$(mktemp /tmp/autobahn-wss-XXXXXX.json)}"
AUTOBAHN_PORT="${AUTOBAHN_PORT:-9002}" $RUNNER -a ws-rs-wss -c "$CASES" -x '12.*,13.*' -o "$RESULTS" \
  -- "$PWD/scripts/autobahn-wss.sh" --client '{url}' '{agent}'
