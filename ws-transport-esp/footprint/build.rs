//! Link arguments of the footprint programs:
//! - the size markers (see `src/lib.rs`) survive the linker's garbage
//!   collection: `-u SYMBOL` makes each one a root;
//! - `memset`, `memcpy`, `memmove` and `memcmp` are the ESP32-C3 ROM's, at
//!   the addresses esp-hal links them to (`esp-hal/ld/esp32c3/rom-functions.x`,
//!   included by its `linkall.x`; ESP-IDF uses the same ROM functions): on the
//!   chip they take no flash. With `FOOTPRINT_MEM_IN_FLASH` set they come from
//!   compiler-builtins instead, as on a chip without them in ROM (and for the
//!   stack measurement, which then counts their frames).
fn main() {
    for sym in [
        "FOOTPRINT_SLOT",
        "FOOTPRINT_SESSION",
        "FOOTPRINT_CONNECTION",
        "FOOTPRINT_CLIENT",
        "FOOTPRINT_SOCKET",
    ] {
        println!("cargo:rustc-link-arg-bins=-u{sym}");
    }
    println!("cargo:rerun-if-env-changed=FOOTPRINT_MEM_IN_FLASH");
    if std::env::var_os("FOOTPRINT_MEM_IN_FLASH").is_none() {
        for (sym, addr) in [
            ("memset", "0x40000354"),
            ("memcpy", "0x40000358"),
            ("memmove", "0x4000035c"),
            ("memcmp", "0x40000360"),
        ] {
            println!("cargo:rustc-link-arg-bins=--defsym={sym}={addr}");
        }
    }
    for sym in ["probe_httparse", "probe_sha1_smol", "probe_base64"] {
        println!("cargo:rustc-link-arg-bin=probe=-u{sym}");
    }
}
