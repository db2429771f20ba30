//! ws-proto on the ESP32-C3's ISA: a bare-metal riscv32imc program, run by
//! `scripts/qemu.sh` under `qemu-system-riscv32` (machine `virt`, a CPU with
//! only I, M and C), that runs RFC 6455's vectors, UTF-8 across fragments, 64
//! KiB messages through a 1 KiB receive buffer and a 1009 refusal, prints
//! instructions per 16-byte frame, and exits through QEMU with the number of
//! failed checks (0: pass).
//!
//! Modules: `rt` (entry, console, exit, CSRs: all the `unsafe`), `peer`
//! (scripted server and random source), `vectors`, `utf8`, `stream`, `cost`.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

/// `println!` to the UART.
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::rt::Console, $($arg)*);
    }};
}
pub(crate) use println;

mod cost;
#[cfg(feature = "deflate")]
mod deflate;
mod peer;
mod rt;
mod stream;
mod utf8;
mod vectors;

/// misa bits: RV32 (MXL = 1) and the extensions I, M and C, nothing else.
const MISA_RV32IMC: u32 =
    (1 << 30) | (1 << (b'I' - b'A')) | (1 << (b'M' - b'A')) | (1 << (b'C' - b'A'));

/// The CPU has exactly I, M and C: code using another extension would trap.
fn isa() -> peer::Check {
    let misa = rt::misa();
    let mut letters = [b'-'; 26];
    let mut n = 0;
    for (bit, letter) in (b'A'..=b'Z').enumerate() {
        if misa & (1 << bit) != 0 {
            letters[n] = letter;
            n += 1;
        }
    }
    let names = core::str::from_utf8(&letters[..n]).unwrap_or("?");
    println!(
        "     misa {misa:#010x}: RV{}, extensions {names}",
        16 << (misa >> 30)
    );
    peer::ensure(misa == MISA_RV32IMC, "the CPU is not exactly RV32IMC")
}

/// A check and what it checks.
type Named = (&'static str, fn() -> peer::Check);

/// Runs every check, prints each verdict; returns how many failed.
pub(crate) fn main() -> u32 {
    println!(
        "ws-proto on riscv32imc (QEMU virt), opt-level {}",
        env!("WS_QEMU_OPT_LEVEL")
    );
    let checks: [Named; 8] = [
        ("CPU is RV32IMC (misa)", isa),
        ("RFC 6455 1.3/4.2.2 key and accept", vectors::handshake),
        ("RFC 6455 5.7 frames, both directions", vectors::frames),
        (
            "UTF-8: code point split across fragments",
            utf8::split_code_point,
        ),
        (
            "UTF-8: invalid sequence fails fast with 1007",
            utf8::invalid_fails_fast,
        ),
        (
            "64 KiB messages through a 1 KiB Session buffer",
            stream::sixty_four_kib,
        ),
        ("1009 for a message over max_message_size", stream::too_big),
        ("instructions retired (minstret, -icount)", cost::frames),
    ];
    #[cfg(feature = "deflate")]
    let extra: &[Named] = &[(
        "RFC 7692 7.2.3 and a 1009 bomb, device profile, no allocator",
        deflate::device_profile,
    )];
    #[cfg(not(feature = "deflate"))]
    let extra: &[Named] = &[];
    let mut failed = 0;
    for &(name, check) in checks.iter().chain(extra) {
        match check() {
            Ok(()) => println!("ok   {name}"),
            Err(why) => {
                failed += 1;
                println!("FAIL {name}: {why}");
            }
        }
    }
    println!("{} checks, {failed} failed", checks.len() + extra.len());
    failed
}
