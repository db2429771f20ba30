//! Links the program with `link.x` (the `virt` machine's RAM at 0x8000_0000)
//! and tells it the opt-level it was built at, for its report.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let opt = std::env::var("OPT_LEVEL").unwrap_or_default();
    println!("cargo:rerun-if-changed=link.x");
    println!("cargo:rustc-link-arg-bins=-T{dir}/link.x");
    println!("cargo:rustc-env=WS_QEMU_OPT_LEVEL={opt}");
}
