#!/usr/bin/env bash
# Runs the side-by-side benchmarks (benches/) and prints one table: each row is one of
# ws-proto's measurements, as a speed ratio to the physical anchor and to each peer
# (peer time / our time: 2.00x = we take half the time; for the anchor, 1.00x = as fast as it).
# Each table row is one criterion group (benches/benches/{encode,decode,echo}.rs) whose members
# (ours, each peer, the anchors) run the same input one after another in one run; each
# member's figure is criterion's median point estimate of the time per iteration
# (target/criterion/<group>/<member>/new/estimates.json; the mean is listed beside it):
# the thread's CPU time for encode/decode (benches/benches/common/mod.rs, ThreadCpu), the
# process's CPU time for echo (ProcessCpu: client, server and kernel, pinned to one CPU).
#
# usage: scripts/bench-table.sh [--table-only] [filter]
#   --table-only   print the table from the last run's results, run nothing
#   filter         only members whose "group/member" matches it (criterion's filter, a regex)
#   BENCH_CPU=N    the CPU the benchmarks are pinned to (default 1; "" = no pinning)
# Results: $CARGO_TARGET_DIR/criterion (criterion's), and in $CARGO_TARGET_DIR/ws-bench
# (default target/ws-bench) alloc.txt, memory.txt and when.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
OUT="$TARGET/ws-bench"
RUN=1
if [ "${1:-}" = "--table-only" ]; then RUN=0; shift; fi
FILTER="${1:-}"
CPU="${BENCH_CPU-1}"
PIN=()
if [ -n "$CPU" ] && command -v taskset >/dev/null; then PIN=(taskset -c "$CPU"); fi

if [ "$RUN" = 1 ]; then
  mkdir -p "$OUT"
  cargo bench -q -p ws-benches --no-run
  for b in encode decode echo; do
    "${PIN[@]}" cargo bench -q -p ws-benches --bench "$b" -- $FILTER >&2
  done
  "${PIN[@]}" cargo bench -q -p ws-benches --bench alloc | tee "$OUT/alloc.txt" >&2
  cargo bench -q -p ws-benches --bench memory | tee "$OUT/memory.txt" >&2
  { date -u '+%Y-%m-%d %H:%M UTC'; uptime; } > "$OUT/when.txt"
fi

python3 - "$OUT" "$TARGET/criterion" <<'PY'
import glob, json, os, sys
out, crit = sys.argv[1], sys.argv[2]
GROUPS = ["encode_16B", "encode_1KiB", "encode_64KiB", "encode_1MiB", "decode_text16",
          "decode_bin64k", "echo_pingpong", "echo_pipelined"]
res, tp, mean = {}, {}, {}
for g in GROUPS:
    for path in glob.glob(os.path.join(crit, g, "*", "new", "estimates.json")):
        new = os.path.dirname(path)
        with open(os.path.join(new, "benchmark.json")) as f:
            b = json.load(f)
        with open(path) as f:
            e = json.load(f)
        row = b["function_id"]
        res[(g, row)] = e["median"]["point_estimate"]
        mean[(g, row)] = e["mean"]["point_estimate"]
        (kind, amount), = b["throughput"].items()
        tp[g] = ("bytes" if kind.startswith("Bytes") else "elements", int(amount))

def rate(g, row):
    t = res.get((g, row))
    if t is None:
        return "-"
    kind, n = tp[g]
    if kind == "bytes":
        return "%.2f GB/s" % (n / t)
    per_s = n / t * 1e9
    return "%.1f M msg/s" % (per_s / 1e6) if per_s >= 1e6 else "%.0f k msg/s" % (per_s / 1e3)

def ratio(g, ours, other):
    a, b = res.get((g, ours)), res.get((g, other))
    return None if a is None or b is None else b / a

PEERS = [("tungstenite", "tungstenite"), ("fastwebsockets", "fastwebsockets"),
         ("fastwebsockets_frame", "fws Frame"), ("embedded_websocket", "embedded-ws"),
         ("tokio_websockets", "tokio-ws")]
ROWS = []
for size in ["16B", "1KiB", "64KiB", "1MiB"]:
    for ours in ["ws_proto_client", "ws_proto_send_text", "ws_proto_encode_masked"]:
        ROWS.append(("encode_" + size, ours, "anchor_u64_xor", "u64 XOR copy"))
for ours in ["ws_proto_recv", "ws_proto_session", "ws_proto_session_tuned"]:
    ROWS.append(("decode_text16", ours, "anchor_from_utf8", "from_utf8"))
for ours in ["ws_proto_recv", "ws_proto_session", "ws_proto_session_tuned"]:
    ROWS.append(("decode_bin64k", ours, "anchor_memcpy", "memcpy"))
ROWS.append(("echo_pingpong", "ws_proto", "anchor_raw_tcp", "raw TCP echo"))
ROWS.append(("echo_pipelined", "ws_proto", "anchor_raw_tcp", "raw TCP echo"))

fmt_r = lambda r: "-" if r is None else "%.2fx" % r
hdr = ["group", "ws-proto path", "ours", "vs anchor", "anchor"] + [p[1] for p in PEERS] + ["vs best peer"]
lines = []
for g, ours, anchor, aname in ROWS:
    if (g, ours) not in res:
        continue
    rs = [ratio(g, ours, p[0]) for p in PEERS]
    have = [(r, p[1]) for r, p in zip(rs, PEERS) if r is not None]
    best = min(have) if have else None
    lines.append([g, ours, rate(g, ours), fmt_r(ratio(g, ours, anchor)), aname] +
                 [fmt_r(r) for r in rs] +
                 ["-" if best is None else "%.2fx %s" % best])
w = [max(len(str(r[i])) for r in [hdr] + lines) for i in range(len(hdr))]
fmt = lambda r: "| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(r)) + " |"
print(fmt(hdr))
print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for r in lines:
    print(fmt(r))
print()
print("ratios = other's time / ours (>= 1.00x: we are at least as fast), criterion medians of CPU time (thread: encode/decode; process: echo); '-' = not measured")
when = os.path.join(out, "when.txt")
if os.path.exists(when):
    print("run: " + " / ".join(l.strip() for l in open(when)))

r = ratio("encode_64KiB", "ws_proto_client", "anchor_u64_xor_at_payload")
if r is not None:
    print("(encode 64 KiB against the same XOR copy into the payload's offset in a frame, 14 bytes in: %.2fx)" % r)
print()
for (g, row), t in sorted(res.items()):
    print("  %-16s %-26s %12.1f ns (mean %12.1f)  %s" % (g, row, t, mean[(g, row)], rate(g, row)))

# The issue's rows: each target, met or its measured gap.
def target_row(what, g, ours, peers, goal_note, anchor=None):
    t = res.get((g, ours))
    if t is None:
        return
    parts = []
    worst = None
    for key, name in peers:
        r = ratio(g, ours, key)
        if r is not None:
            parts.append("%s %.2fx" % (name, r))
            worst = r if worst is None else min(worst, r)
    if anchor:
        r = ratio(g, ours, anchor[0])
        if r is not None:
            parts.append("%s %.2fx" % (anchor[1], r))
            worst = r if worst is None else min(worst, r)
    status = "-" if worst is None else ("met" if worst >= 1.0 else "gap: %.0f%% behind" % ((1 / worst - 1) * 100))
    print("| %s | %s | %s | %s |" % (what, ", ".join(parts), goal_note, status))

ALLPEERS = [("embedded_websocket", "embedded-ws"), ("fastwebsockets_frame", "fws Frame"),
            ("fastwebsockets", "fastwebsockets"), ("tokio_websockets", "tokio-ws"), ("tungstenite", "tungstenite")]
print()
print("| issue row (the std Client's path) | ours vs each (time ratio) | goal | status |")
print("|---|---|---|---|")
target_row("send 16 B text, MaskRandom + default queue", "encode_16B", "ws_proto_client", ALLPEERS, ">= 1.0x every peer")
target_row("encode 64 KiB, MaskRandom + default queue", "encode_64KiB", "ws_proto_client",
           [("fastwebsockets_frame", "fws Frame (in place)"), ("fastwebsockets", "fastwebsockets"), ("tokio_websockets", "tokio-ws")],
           ">= 1.0x the anchor and the peers", ("anchor_u64_xor", "u64 XOR copy"))
for row, what in [("ws_proto_session", "defaults"), ("ws_proto_session_tuned", "256 KiB receive buffer")]:
    target_row("decode 16 B text through Session, " + what, "decode_text16", row, ALLPEERS, ">= 1.0x every peer")
    target_row("decode 64 KiB binary through Session, " + what, "decode_bin64k", row, ALLPEERS, ">= 1.0x every peer")
target_row("echo ping-pong 32 B", "echo_pingpong", "ws_proto", [("tungstenite", "tungstenite blocking")], ">= 1.0x tungstenite")
target_row("echo pipelined 32 B", "echo_pipelined", "ws_proto", [("tungstenite", "tungstenite")], ">= 1.0x tungstenite")

icount = os.path.join(out, "icount.txt")
if os.path.exists(icount):
    ic = {}
    for line in open(icount):
        p = line.split()
        if len(p) >= 2 and p[1].isdigit():
            ic[p[0]] = int(p[1])
    for ours, peer, what in [("session_text_16", "ews_recv_text_16", "decode 16 B text through Session (instructions)"),
                             ("client_send_text_16", "ews_send_text_16", "send 16 B text, MaskRandom (instructions)")]:
        if ours in ic and peer in ic:
            st = "met" if ic[ours] <= ic[peer] else "gap: %d more" % (ic[ours] - ic[peer])
            print("| %s | %d vs embedded-ws %d | fewer than embedded-ws | %s |" % (what, ic[ours], ic[peer], st))

allocs = os.path.join(out, "alloc.txt")
if os.path.exists(allocs):
    for line in open(allocs):
        if line.startswith("alloc ws-proto Client storage"):
            n = float(line.split()[5])
            print("| allocations per message, Client storage (%s) | %.2f | 0 | %s |" % (line.split()[4], n, "met" if n == 0 else "gap"))
mem = os.path.join(out, "memory.txt")
if os.path.exists(mem):
    for line in open(mem):
        p = line.split()
        if line.startswith("memory ws-transport-std Client ") and "idle" in p:
            idle = int(p[p.index("idle") + 1])
            print("| heap per idle connection (defaults) | %d B | <= 16384 B | %s |" % (idle, "met" if idle <= 16384 else "gap"))

for name, title in [("alloc.txt", "heap allocations per message in steady state (counting global allocator):"),
                    ("memory.txt", "heap bytes held per connection (counting global allocator, server in a child process):")]:
    p = os.path.join(out, name)
    if os.path.exists(p):
        print()
        print(title)
        key = name.split(".")[0] + " "
        for line in open(p):
            if line.startswith(key):
                print("  " + line[len(key):].rstrip())
PY
