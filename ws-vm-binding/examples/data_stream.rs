//! The document's "Event-driven Data Stream" pattern against a local
//! tungstenite server this example starts itself.
//!
//! `cargo run -p ws-vm-binding --example data_stream`

mod patterns;

fn main() {
    if let Err(e) = patterns::data_stream() {
        eprintln!("data_stream: {e}");
        std::process::exit(1);
    }
}
