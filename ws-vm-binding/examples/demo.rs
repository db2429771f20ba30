//! The README's demo: the document's three patterns in sequence, each
//! against a local tungstenite server it starts itself (the third stops and
//! restarts its server to show auto-reconnect), then a fourth that uses the
//! module's extensions: binary frames and `ws.closeWith`.
//!
//! `cargo run -p ws-vm-binding --example demo`

mod patterns;

type Pattern = fn() -> Result<(), Box<dyn std::error::Error>>;

fn main() {
    let runs: [(&str, Pattern); 4] = [
        ("Event-driven Data Stream", patterns::data_stream),
        ("Command Channel", patterns::command_channel),
        ("Resilient WebSocket Stream", patterns::resilient),
        ("Binary Records and closeWith", patterns::binary_close),
    ];
    let mut failed = 0;
    for (name, run) in runs {
        match run() {
            Ok(()) => println!("-- {name}: ok\n"),
            Err(e) => {
                println!("-- {name}: FAILED: {e}\n");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
