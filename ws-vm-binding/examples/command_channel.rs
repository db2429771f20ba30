//! The document's "Command Channel" pattern against a local
//! tungstenite server this example starts itself.
//!
//! `cargo run -p ws-vm-binding --example command_channel`

mod patterns;

fn main() {
    if let Err(e) = patterns::command_channel() {
        eprintln!("command_channel: {e}");
        std::process::exit(1);
    }
}
