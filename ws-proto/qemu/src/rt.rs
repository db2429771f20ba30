//! The machine under the checks, and all of this program's `unsafe`: the
//! entry point (stack, `.bss`, trap vector), the console on the `virt`
//! machine's NS16550 UART, the exit through its `sifive_test` device, the
//! `misa` and `minstret` CSRs, and the panic and trap handlers (both report
//! a failure and exit).
//!
//! Runs in M-mode from reset with no firmware (`-bios none`): QEMU loads the
//! ELF at 0x8000_0000 and jumps to `_start`.
#![allow(unsafe_code)]

use core::fmt::{self, Write};

/// The NS16550 UART of `virt`: transmit holding register at +0, line status at +5.
const UART: usize = 0x1000_0000;
/// Line status: the transmit holding register is empty.
const LSR_THRE: u8 = 1 << 5;
/// The `sifive_test` device of `virt`: a write ends QEMU.
const TEST: usize = 0x10_0000;
/// Written to [`TEST`]: QEMU exits with status 0.
const TEST_PASS: u32 = 0x5555;
/// Written to [`TEST`] as `(code << 16) | TEST_FAIL`: QEMU exits with `code`.
const TEST_FAIL: u32 = 0x3333;
/// Exit status after a panic (a failed check exits with the number of failures).
const PANICKED: u32 = 100;
/// Exit status after a trap.
const TRAPPED: u32 = 101;

// Entry: a stack, a zeroed `.bss`, a trap vector, then `rust_main`. Traps (an
// illegal instruction if the code used an extension the CPU lacks, a bad
// access) go to `trap_entry`, which takes a fresh stack and never returns.
core::arch::global_asm!(
    r#"
    .section .text.start, "ax"
    .global _start
_start:
    la sp, _stack_top
    la t0, _sbss
    la t1, _ebss
1:
    bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:
    la t0, trap_entry
    csrw mtvec, t0
    call rust_main
3:
    j 3b

    .text
    .balign 4
trap_entry:
    la sp, _stack_top
    call rust_trap
4:
    j 4b
"#
);

#[no_mangle]
extern "C" fn rust_main() -> ! {
    let failures = crate::main();
    if failures == 0 {
        exit_pass()
    }
    exit_fail(failures)
}

#[no_mangle]
extern "C" fn rust_trap() -> ! {
    let (cause, pc, tval): (usize, usize, usize);
    // SAFETY: reading machine CSRs in M-mode has no side effect.
    unsafe {
        core::arch::asm!(
            "csrr {0}, mcause",
            "csrr {1}, mepc",
            "csrr {2}, mtval",
            out(reg) cause,
            out(reg) pc,
            out(reg) tval,
            options(nomem, nostack)
        );
    }
    let _ = writeln!(
        Console,
        "FAIL trap: mcause {cause:#x} at pc {pc:#010x} (mtval {tval:#x}); mcause 2 is an illegal instruction"
    );
    exit_fail(TRAPPED)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(Console, "FAIL panic: {info}");
    exit_fail(PANICKED)
}

/// Ends the run; QEMU exits with status 0.
pub(crate) fn exit_pass() -> ! {
    test_write(TEST_PASS)
}

/// Ends the run; QEMU exits with status `code` (1 when `code` is 0 or does
/// not fit the device's 16 bits).
pub(crate) fn exit_fail(code: u32) -> ! {
    let code = if code == 0 || code > 0xffff { 1 } else { code };
    test_write((code << 16) | TEST_FAIL)
}

fn test_write(value: u32) -> ! {
    // SAFETY: TEST is the `sifive_test` MMIO register of the `virt` machine,
    // 4-byte aligned and always mapped; the write only ends the emulation.
    unsafe { core::ptr::write_volatile(TEST as *mut u32, value) };
    // Not reached under QEMU; a machine without the device stops here.
    loop {
        core::hint::spin_loop();
    }
}

/// The UART as a `fmt::Write` sink.
pub(crate) struct Console;

impl Console {
    fn put(byte: u8) {
        // SAFETY: UART and UART + 5 are the NS16550's transmit holding and
        // line status registers on `virt`, byte-wide and always mapped; reading
        // the status and writing a byte have no effect beyond sending it.
        unsafe {
            while core::ptr::read_volatile((UART + 5) as *const u8) & LSR_THRE == 0 {}
            core::ptr::write_volatile(UART as *mut u8, byte);
        }
    }
}

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                Console::put(b'\r');
            }
            Console::put(b);
        }
        Ok(())
    }
}

/// Instructions retired so far (the low 32 bits of `minstret`; exact under
/// QEMU's `-icount`). Differences below 2^32 are right with `wrapping_sub`.
#[inline(always)]
pub(crate) fn instret() -> u32 {
    let n: u32;
    // SAFETY: reading a counter CSR in M-mode has no side effect.
    // Without `nomem` the read is also a compiler barrier: the measured work
    // is not moved across it.
    unsafe { core::arch::asm!("csrr {0}, minstret", out(reg) n, options(nostack)) };
    n
}

/// The `misa` CSR: the machine's base ISA width and its extensions (bit 0 =
/// A ... bit 25 = Z).
pub(crate) fn misa() -> u32 {
    let v: u32;
    // SAFETY: reading a machine CSR in M-mode has no side effect.
    unsafe { core::arch::asm!("csrr {0}, misa", out(reg) v, options(nomem, nostack)) };
    v
}

/// Ten `nop` instructions, to check that [`instret`] counts exactly.
#[inline(always)]
pub(crate) fn ten_nops() {
    // SAFETY: `nop` has no effect.
    unsafe {
        core::arch::asm!(
            "nop",
            "nop",
            "nop",
            "nop",
            "nop",
            "nop",
            "nop",
            "nop",
            "nop",
            "nop",
            options(nostack)
        )
    };
}
