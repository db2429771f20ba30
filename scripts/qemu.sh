#!/usr/bin/env bash
# The protocol core on the ESP32-C3's ISA: builds ws-proto/qemu (a bare-metal
# riscv32imc-unknown-none-elf program) at opt-level "s" and "z" and runs it under
# qemu-system-riscv32, machine `virt`, on a CPU with only I, M and C (no A, F, D,
# no bit-manipulation, no MMU). The program runs RFC 6455's vectors, UTF-8 across
# fragments, 64 KiB messages through a 1 KiB Session buffer and a 1009 refusal,
# prints instructions retired per 16-byte frame (minstret, exact under -icount),
# and exits through the machine's sifive_test device: 0 when every check passed.
# Installs what it needs: the Rust target, and Debian's qemu-system-misc (apt-get).
# Usage: scripts/qemu.sh        (exit status: 0 pass, non-zero on a failure or timeout)
set -euo pipefail
cd "$(dirname "$0")/.."
target=riscv32imc-unknown-none-elf

rustup target list --installed | grep -qx "$target" || rustup target add "$target"
if ! command -v qemu-system-riscv32 >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  # Without recommends: no GUI front end (gtk) is pulled in.
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-misc
fi

# Property names of QEMU 7.2 (Debian 12's); rv32 starts as RV32GC with S and U.
cpu="rv32,a=off,f=off,d=off,s=off,u=off,h=off,v=off,mmu=off,Zifencei=off"
cpu+=",zba=off,zbb=off,zbc=off,zbs=off,zbkb=off,zk=off,zks=off,zkr=off"
cpu+=",svinval=off,svnapot=off,svpbmt=off,sstc=off"

out="${CARGO_TARGET_DIR:-$PWD/target}/qemu"
status=0
# The third pass adds permessage-deflate's device profile (no allocator).
for pass in release release-z release+deflate; do
  profile="${pass%+*}"
  features=()
  [ "$pass" = "${pass%+deflate}" ] || features=(--features deflate)
  (cd ws-proto/qemu && CARGO_TARGET_DIR="$out" cargo build --quiet --profile "$profile" "${features[@]}")
  # -icount shift=0: one instruction per virtual nanosecond, and minstret counts
  # retired instructions exactly (without it QEMU returns host ticks).
  run=0
  timeout 60 qemu-system-riscv32 -nographic -bios none -machine virt -cpu "$cpu" \
    -icount shift=0 -kernel "$out/$target/$profile/ws-proto-qemu" </dev/null || run=$?
  case $run in
    0) ;;
    124) echo "qemu.sh: $pass: timed out after 60 s" >&2; status=1 ;;
    *) echo "qemu.sh: $pass: QEMU exited with $run (1-99: that many checks failed; 100: panic; 101: trap)" >&2; status=1 ;;
  esac
done
exit "$status"
