//! The fourth pattern (an extension of v0.1): binary frames both ways and
//! `ws.closeWith`, against a local tungstenite echo server this example
//! starts itself.
//!
//! `cargo run -p ws-vm-binding --example binary_close`

mod patterns;

fn main() {
    if let Err(e) = patterns::binary_close() {
        eprintln!("binary_close: {e}");
        std::process::exit(1);
    }
}
