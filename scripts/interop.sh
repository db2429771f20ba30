#!/usr/bin/env bash
# Interop: runs the wsclient example against independent echo servers (Python
# `websockets`, Node `ws`) on 127.0.0.1 and checks every echo byte for byte
# (ASCII, non-ASCII UTF-8, 64 KiB, 120 KB, 1 MiB and 16 MiB lines, 200 short lines);
# then the same over wss:// against Python `websockets` with an `ssl` context from
# a CA made at run time (`trustme`), passed to wsclient with --ca, and a header the
# server requires (401 without it; an untrusted CA fails too). The client offers
# permessage-deflate: Python websockets and the second Node `ws` server agree to it
# (checked in their logs), the first Node `ws` server does not.
#
# usage: scripts/interop.sh
# Installs what it needs under scripts/.peers/ (gitignored): a Python venv with
# `websockets` and `trustme`, and `ws` from npm. Every wait is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=scripts/.peers
mkdir -p "$PEERS"
start=$(date +%s)

if [ ! -x "$PEERS/venv/bin/python" ] || ! "$PEERS/venv/bin/python" -c 'import websockets, trustme' 2>/dev/null; then
  timeout 120 python3 -m venv "$PEERS/venv"
  timeout 300 "$PEERS/venv/bin/pip" install -q 'websockets>=13,<16' 'trustme>=1,<2'
fi
if [ ! -d "$PEERS/node/node_modules/ws" ]; then
  mkdir -p "$PEERS/node"
  (cd "$PEERS/node" && timeout 300 npm install --silent --no-audit --no-fund --prefix . 'ws@8')
fi

timeout 600 cargo build -q -p ws-transport-std --example wsclient
TARGET="${CARGO_TARGET_DIR:-target}"
CLIENT="$TARGET/debug/examples/wsclient"

WORK=$(mktemp -d /tmp/ws-interop-XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$PEERS/venv/bin/python" scripts/interop/make_input.py "$WORK/input.txt"

failures=0
total=0
CLIENT_ARGS=()
# run_peer NAME SCHEME EXTENSION COMMAND... (wsclient also gets "${CLIENT_ARGS[@]}");
# EXTENSION is what the server's log must show as agreed ("any": not checked).
run_peer() {
  local name="$1" scheme="$2" want_ext="$3"; shift 3
  total=$((total + 1))
  "$@" >"$WORK/$name.port" 2>"$WORK/$name.server.log" &
  SERVER_PID=$!
  local port=""
  for _ in $(seq 1 100); do
    port=$(head -n1 "$WORK/$name.port" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "interop $name: FAILED (server did not start)"; cat "$WORK/$name.server.log"
    failures=$((failures + 1)); kill "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; return
  fi
  local t0 rc=0 want
  want=$(wc -l <"$WORK/input.txt")
  : >"$WORK/$name.out"
  t0=$(date +%s%N)
  # Stdin stays open until every echo is back (at most 30 s): a server may drop
  # echoes still queued when our close frame arrives (RFC 6455 5.5.1).
  {
    cat "$WORK/input.txt"
    for _ in $(seq 1 300); do
      [ "$(wc -l <"$WORK/$name.out")" -ge "$want" ] && break
      sleep 0.1
    done
  } | timeout 60 "$CLIENT" "${CLIENT_ARGS[@]}" "$scheme://127.0.0.1:$port/" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  if [ "$want_ext" != any ] && ! grep -q "^extensions: $want_ext" "$WORK/$name.server.log"; then
    echo "interop $name: FAILED (extensions agreed: $(grep -m1 '^extensions:' "$WORK/$name.server.log"), wanted $want_ext)"
    failures=$((failures + 1))
  elif [ "$rc" -eq 0 ] && cmp -s "$WORK/input.txt" "$WORK/$name.out"; then
    echo "interop $name: ok ($want_ext; $(wc -l <"$WORK/input.txt") lines, $(wc -c <"$WORK/input.txt") bytes echoed byte for byte, ${ms} ms)"
  else
    echo "interop $name: FAILED (exit $rc)"
    cmp "$WORK/input.txt" "$WORK/$name.out" || true
    tail -n 5 "$WORK/$name.err"
    failures=$((failures + 1))
  fi
}

# expect_refusal NAME TEXT CLIENT ARGS...: wsclient exits 1 naming TEXT.
expect_refusal() {
  local name="$1" text="$2" rc=0; shift 2
  total=$((total + 1))
  echo x | timeout 30 "$CLIENT" "$@" >/dev/null 2>"$WORK/$name.err" || rc=$?
  if [ "$rc" -eq 1 ] && grep -q "$text" "$WORK/$name.err"; then
    echo "interop $name: ok (refused: $(tail -n1 "$WORK/$name.err"))"
  else
    echo "interop $name: FAILED (exit $rc, expected '$text')"; tail -n 5 "$WORK/$name.err"
    failures=$((failures + 1))
  fi
}

run_peer python-websockets ws permessage-deflate \
  timeout 120 "$PEERS/venv/bin/python" scripts/interop/echo_server.py
run_peer node-ws ws None \
  timeout 120 env NODE_PATH="$PEERS/node/node_modules" node scripts/interop/echo_server.js
run_peer node-ws-deflate ws permessage-deflate \
  timeout 120 env NODE_PATH="$PEERS/node/node_modules" node scripts/interop/echo_server.js deflate

# wss://: the server writes its run-time CA to $WORK/ca.pem and wants a token.
CLIENT_ARGS=(--ca "$WORK/ca.pem" -H "Authorization: Bearer interop")
run_peer python-websockets-wss wss any \
  timeout 120 "$PEERS/venv/bin/python" scripts/interop/wss_echo_server.py "$WORK/ca.pem"
"$PEERS/venv/bin/python" scripts/interop/wss_echo_server.py "$WORK/ca.pem" >"$WORK/wss.port" 2>"$WORK/wss.server.log" &
SERVER_PID=$!
port=""
for _ in $(seq 1 100); do
  port=$(head -n1 "$WORK/wss.port" 2>/dev/null || true)
  [ -n "$port" ] && break
  sleep 0.1
done
expect_refusal wss-without-token "status 401" --ca "$WORK/ca.pem" "wss://127.0.0.1:$port/"
expect_refusal wss-untrusted-ca "certificate issuer not trusted" \
  -H "Authorization: Bearer interop" "wss://127.0.0.1:$port/"
kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

echo "interop: $((total - failures)) passed, $failures failed ($(( $(date +%s) - start )) s)"
[ "$failures" -eq 0 ]
