#!/usr/bin/env bash
# Footprint of the ESP32 transport: builds ws-transport-esp/footprint (two bare-metal
# programs that do the handshake, send frames and decode frames) for
# riscv32imc-unknown-none-elf (ESP32-C3 class) at opt-level "z" with LTO, then prints
# their flash (.text + .rodata) and the RAM of one connection (state + buffers).
# Goal (a target, not a test): flash <= 11 KiB, connection state <= 64 bytes + buffers.
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

echo "flash at opt-level z, $target (.text + .rodata; .srodata/.data included when present):"
for prog in proto client; do
  f="$bin/$prog"
  text=$(size_of "$f" .text)
  ro=$(( $(size_of "$f" .rodata) + $(size_of "$f" .srodata) + $(size_of "$f" .data) + $(size_of "$f" .sdata) ))
  case $prog in
    proto) what="ws-proto Session alone (handshake + validation, send, decode)" ;;
    client) what="EspClient over embedded-nal (+ DNS, connect, slots)" ;;
  esac
  printf '  %-7s %6d bytes = .text %d + .rodata %d   %s\n' "$prog" $((text + ro)) "$text" "$ro" "$what"
done
flash=$(( $(size_of "$bin/client" .text) + $(size_of "$bin/client" .rodata) + $(size_of "$bin/client" .srodata) ))
echo "  goal: <= 11264 bytes (11 KiB) for full validation: client is $((flash - 11264)) bytes over (negative = under)"

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
echo "  goal: state <= 64 bytes + buffers: $(( slot - buffers - 64 )) bytes over (negative = under)"

# The pieces under ws-proto, weighed alone in the probe program (functions + tables).
weigh() { readelf -sW "$bin/probe" | awk -v p="$1" '($4 == "FUNC" || $4 == "OBJECT") && $8 ~ p { n += $3 } END { print n + 0 }'; }
echo "pieces (probe program), bytes of flash:"
printf '  httparse response parser (32 headers)   %5d\n' "$(weigh 'httparse')"
printf '  SHA-1, sha1_smol (used now)             %5d\n' "$(weigh 'sha1_smol')"
printf '  base64 crate encode (used now)          %5d\n' "$(weigh '^probe_base64$|_ZN6base64')"
