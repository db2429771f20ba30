#!/usr/bin/env bash
# Footprint of the ESP32 transport: builds ws-transport-esp/footprint (two bare-metal
# programs that do the handshake, send frames and decode frames) for
# riscv32imc-unknown-none-elf (ESP32-C3 class) at opt-level "z" with LTO, then prints
# their flash (.text + .rodata) and the RAM of one connection (state + buffers).
# memset/memcpy/memmove/memcmp are linked to the chip's ROM, as esp-hal and
# ESP-IDF link them (see ws-transport-esp/footprint/build.rs); a second build
# with them in flash (FOOTPRINT_MEM_IN_FLASH=1) is printed beside it.
# Goal (a target, not a test): the Session program (proto) <= 16 KiB of flash,
# connection state <= 64 bytes + buffers.
# Then the worst stack depth below each call of the client program (`-Z emit-stack-sizes`,
# nightly with rust-src; scripts/stack_depth.py walks the call graph); goal <= 2 KiB.
# Usage: scripts/footprint.sh     (needs: rustup target add riscv32imc-unknown-none-elf)
set -euo pipefail
cd "$(dirname "$0")/.."
target=riscv32imc-unknown-none-elf
out="${CARGO_TARGET_DIR:-$PWD/target}/footprint"
(cd ws-transport-esp/footprint && CARGO_TARGET_DIR="$out" cargo build --quiet --release --target "$target")
bin="$out/$target/release"

# Section sizes (decimal) of an ELF file: "name size" lines.
sections() {
  readelf -SW "$1" | sed -n 's/^ *\[ *[0-9]*\] *//p' | while read -r name _type _addr _off size _rest; do
    case $name in .*) echo "$name $((16#$size))" ;; esac
  done
}
size_of() { sections "$1" | awk -v s="$2" '$1 == s { n += $2 } END { print n + 0 }'; }
symbol() { readelf -sW "$bin/client" | awk -v s="$1" '$8 == s { print $3 }'; }

echo "flash at opt-level z, $target (.text + .rodata; .srodata/.data included when present; mem functions in ROM):"
for prog in proto client async_client; do
  f="$bin/$prog"
  text=$(size_of "$f" .text)
  ro=$(( $(size_of "$f" .rodata) + $(size_of "$f" .srodata) + $(size_of "$f" .data) + $(size_of "$f" .sdata) ))
  case $prog in
    proto) what="ws-proto Session alone (handshake + validation, send, decode)" ;;
    client) what="EspClient over embedded-nal (+ DNS, connect, slots)" ;;
    async_client) what="AsyncClient over embedded-io-async + embedded-nal-async" ;;
  esac
  printf '  %-12s %6d bytes = .text %d + .rodata %d   %s\n' "$prog" $((text + ro)) "$text" "$ro" "$what"
done
flash_of() { echo $(( $(size_of "$1" .text) + $(size_of "$1" .rodata) + $(size_of "$1" .srodata) + $(size_of "$1" .data) + $(size_of "$1" .sdata) )); }
self_out="${CARGO_TARGET_DIR:-$PWD/target}/footprint-mem-in-flash"
(cd ws-transport-esp/footprint && FOOTPRINT_MEM_IN_FLASH=1 CARGO_TARGET_DIR="$self_out" cargo build --quiet --release --target "$target")
sbin_flash="$self_out/$target/release"
echo "  the same with memset/memcpy/memmove/memcmp in flash (a chip without them in ROM): proto $(flash_of "$sbin_flash/proto"), client $(flash_of "$sbin_flash/client"), async_client $(flash_of "$sbin_flash/async_client")"
flash=$(( $(size_of "$bin/proto" .text) + $(size_of "$bin/proto" .rodata) + $(size_of "$bin/proto" .srodata) + $(size_of "$bin/proto" .data) + $(size_of "$bin/proto" .sdata) ))
verdict() { if [ "$1" -le 0 ]; then echo "met, $(( -$1 )) bytes under"; else echo "missed, $1 bytes over"; fi; }
echo "  goal: proto <= 16384 bytes (16 KiB) with httparse, sha1_smol, base64: $(verdict $((flash - 16384)))"

buffers=$((1024 * 3))
slot=$(symbol FOOTPRINT_SLOT)
session=$(symbol FOOTPRINT_SESSION)
conn=$(symbol FOOTPRINT_CONNECTION)
client=$(symbol FOOTPRINT_CLIENT)
sock=$(symbol FOOTPRINT_SOCKET)
echo "RAM of one connection with 1 KiB RX / TX / MSG buffers (core::mem::size_of on $target):"
printf '  slot            %5d bytes = %d bytes of state + %d bytes of buffers\n' "$slot" $((slot - buffers)) "$buffers"
printf '    ws_proto::Session     %5d = %d state + %d buffers (RX, TX, MSG)\n' "$session" $((session - buffers)) "$buffers"
printf '    ws_proto::Connection  %5d = %d state + 1024 buffer (TX)\n' "$conn" $((conn - 1024))
printf '    driver slot (link, address, deadline, readiness, generation) + socket (%d bytes) %d\n' "$sock" $((slot - session))
printf '  client, 2 slots %5d bytes\n' "$client"
printf '  client program statics: .bss %d bytes (the 2 slots new takes, all zero bytes, and the fake server), .data %d\n' \
  "$(size_of "$bin/client" .bss)" $(( $(size_of "$bin/client" .data) + $(size_of "$bin/client" .sdata) ))
echo "  goal: state <= 64 bytes + buffers: $(verdict $(( slot - buffers - 64 )))"

# The pieces under ws-proto, weighed alone in the probe program (functions + tables).
weigh() { readelf -sW "$bin/probe" | awk -v p="$1" '($4 == "FUNC" || $4 == "OBJECT") && $8 ~ p { n += $3 } END { print n + 0 }'; }
echo "pieces (probe program), bytes of flash:"
printf '  httparse response parser (32 headers)   %5d\n' "$(weigh 'httparse')"
printf '  SHA-1, sha1_smol (used now)             %5d\n' "$(weigh 'sha1_smol')"
printf '  base64 crate encode (used now)          %5d\n' "$(weigh '^probe_base64$|_ZN6base64')"

# Stack: the same programs built by nightly with `-Z emit-stack-sizes` (core from
# rust-src), each frame plus the deepest chain of calls below it.
if cargo +nightly --version >/dev/null 2>&1; then
  stack_out="${CARGO_TARGET_DIR:-$PWD/target}/footprint-stack"
  (cd ws-transport-esp/footprint && CARGO_TARGET_DIR="$stack_out" FOOTPRINT_MEM_IN_FLASH=1 \
    RUSTFLAGS="-Z emit-stack-sizes -C force-unwind-tables=no" \
    cargo +nightly build --quiet --release --target "$target" -Zbuild-std=core)
  sbin="$stack_out/$target/release"
  echo "stack, worst path below each call (bytes; goal <= 2048), $target:"
  python3 scripts/stack_depth.py "$sbin/client" stack_new stack_open stack_poll stack_send
  python3 scripts/stack_depth.py "$sbin/client" _start | sed 's/_start         /client, whole/'
  python3 scripts/stack_depth.py "$sbin/proto" _start | sed 's/_start         /proto, whole /'
  python3 scripts/stack_depth.py "$sbin/async_client" _start | sed 's/_start         /async, whole /'
  task=$(readelf -sW "$sbin/async_client" | awk '$8 == "FOOTPRINT_TASK" { print $3 }')
  echo "  (the async task's future, $task bytes, is static memory, as embassy's executor keeps it)"
else
  echo "stack: skipped (no nightly toolchain for -Z emit-stack-sizes)"
fi
