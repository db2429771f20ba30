#!/usr/bin/env bash
# Runs the side-by-side benchmarks (benches/) and prints one table: each row is one of
# ws-proto's measurements, as a speed ratio to the physical anchor and to each peer
# (peer time / our time: 2.00x = we take half the time; for the anchor, 1.00x = as fast as it).
#
# usage: scripts/bench-table.sh [--table-only] [criterion filter]
#   --table-only   print the table from the last run's results, run nothing
#   BENCH_CPU=N    the CPU the benchmarks are pinned to (default 1; "" = no pinning)
#   BENCH_TIME=S   criterion measurement time in seconds (default 2; warm-up is 1)
# Results: $CARGO_TARGET_DIR/criterion (default target/criterion) and, for allocations,
# $CARGO_TARGET_DIR/ws-bench-alloc.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
RUN=1
if [ "${1:-}" = "--table-only" ]; then RUN=0; shift; fi
FILTER="${1:-}"
CPU="${BENCH_CPU-1}"
PIN=()
if [ -n "$CPU" ] && command -v taskset >/dev/null; then PIN=(taskset -c "$CPU"); fi

if [ "$RUN" = 1 ]; then
  cargo bench -q -p ws-benches --no-run
  BENCHES=(encode decode)
  if cargo bench -q -p ws-benches --bench echo --no-run 2>/dev/null; then BENCHES+=(echo); fi
  for b in "${BENCHES[@]}"; do
    "${PIN[@]}" cargo bench -q -p ws-benches --bench "$b" -- \
      --warm-up-time 1 --measurement-time "${BENCH_TIME:-2}" --noplot $FILTER >&2
  done
  "${PIN[@]}" cargo bench -q -p ws-benches --bench alloc | tee "$TARGET/ws-bench-alloc.txt" >&2
  cargo bench -q -p ws-benches --bench memory | tee "$TARGET/ws-bench-memory.txt" >&2
fi

python3 - "$TARGET" <<'PY'
import json, os, sys
root = os.path.join(sys.argv[1], "criterion")

def est(group, fn):
    p = os.path.join(root, group, fn, "new", "estimates.json")
    try:
        with open(p) as f:
            return json.load(f)["median"]["point_estimate"]  # ns per iteration
    except (OSError, KeyError, ValueError):
        return None

def bench(group, fn):
    p = os.path.join(root, group, fn, "new", "benchmark.json")
    try:
        with open(p) as f:
            return json.load(f).get("throughput") or {}
    except (OSError, ValueError):
        return {}

def rate(group, fn):
    t = est(group, fn)
    if t is None:
        return "-"
    tp = bench(group, fn)
    if "Bytes" in tp:
        return "%.2f GB/s" % (tp["Bytes"] / t)
    if "Elements" in tp:
        per_s = tp["Elements"] / t * 1e9
        return "%.1f M msg/s" % (per_s / 1e6) if per_s >= 1e6 else "%.0f k msg/s" % (per_s / 1e3)
    return "%.0f ns" % t if t < 1e4 else "%.1f us" % (t / 1e3)

PEERS = [("tungstenite", "tungstenite"), ("fastwebsockets", "fastwebsockets"),
         ("fastwebsockets_frame", "fws Frame"), ("embedded_websocket", "embedded-ws")]
ROWS = []
for size in ["16B", "1KiB", "64KiB", "1MiB"]:
    g = "encode_" + size
    ROWS.append((g, "ws_proto_send_text", "anchor_u64_xor", "u64 XOR copy"))
    ROWS.append((g, "ws_proto_encode_masked", "anchor_u64_xor", "u64 XOR copy"))
ROWS.append(("decode_text16", "ws_proto_recv", "anchor_from_utf8", "from_utf8"))
ROWS.append(("decode_text16", "ws_proto_session", "anchor_from_utf8", "from_utf8"))
ROWS.append(("decode_bin64k", "ws_proto_recv", "anchor_memcpy", "memcpy"))
ROWS.append(("decode_bin64k", "ws_proto_session", "anchor_memcpy", "memcpy"))
ROWS.append(("echo_pingpong", "ws_proto", "anchor_raw_tcp", "raw TCP echo"))
ROWS.append(("echo_pipelined", "ws_proto", "anchor_raw_tcp", "raw TCP echo"))

def ratio(group, ours, other):
    a, b = est(group, ours), est(group, other)
    if a is None or b is None:
        return "-"
    return "%.2fx" % (b / a)

hdr = ["group", "ws-proto path", "ours", "vs anchor", "anchor"] + [p[1] for p in PEERS]
lines = []
for g, ours, anchor, aname in ROWS:
    if est(g, ours) is None:
        continue
    lines.append([g, ours, rate(g, ours), ratio(g, ours, anchor), aname] +
                 [ratio(g, ours, p[0]) for p in PEERS])
w = [max(len(str(r[i])) for r in [hdr] + lines) for i in range(len(hdr))]
fmt = lambda r: "| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(r)) + " |"
print(fmt(hdr))
print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for r in lines:
    print(fmt(r))
print()
print("ratios = other's median time / ours (higher is better for us); '-' = not measured")

# Every measurement, for reference.
print()
allrows = []
for g in sorted(os.listdir(root)) if os.path.isdir(root) else []:
    gp = os.path.join(root, g)
    for fn in sorted(os.listdir(gp)):
        if est(g, fn) is not None:
            allrows.append((g, fn, "%.1f ns" % est(g, fn), rate(g, fn)))
if allrows:
    w2 = [max(len(r[i]) for r in allrows) for i in range(4)]
    for r in allrows:
        print("  ".join(c.ljust(w2[i]) for i, c in enumerate(r)))

alloc = os.path.join(sys.argv[1], "ws-bench-alloc.txt")
if os.path.exists(alloc):
    print()
    print("heap allocations per message in steady state (counting global allocator):")
    with open(alloc) as f:
        for line in f:
            if line.startswith("alloc "):
                print("  " + line[6:].rstrip())

memory = os.path.join(sys.argv[1], "ws-bench-memory.txt")
if os.path.exists(memory):
    print()
    print("heap bytes held per connection (counting global allocator, server in a child process):")
    with open(memory) as f:
        for line in f:
            if line.startswith("memory "):
                print("  " + line[7:].rstrip())
PY
