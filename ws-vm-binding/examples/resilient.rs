//! The document's "Resilient WebSocket Stream" pattern against a local
//! tungstenite server this example starts itself.
//!
//! `cargo run -p ws-vm-binding --example resilient`

mod patterns;

fn main() {
    if let Err(e) = patterns::resilient() {
        eprintln!("resilient: {e}");
        std::process::exit(1);
    }
}
