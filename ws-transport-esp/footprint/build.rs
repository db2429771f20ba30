//! Keeps the size markers (see `src/lib.rs`) through the linker's garbage
//! collection: `-u SYMBOL` makes each one a root.
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
    for sym in [
        "probe_httparse",
        "probe_sha1_smol",
        "probe_sha1_compact",
        "probe_base64",
        "probe_base64_compact",
    ] {
        println!("cargo:rustc-link-arg-bin=probe=-u{sym}");
    }
}
