//! The full transport: `EspClient` over a fake `embedded-nal` stack does DNS,
//! connect, the handshake (with `Sec-WebSocket-Accept` validation), sends a
//! text and a ping, and decodes every frame kind until the server's close.
#![no_std]
#![no_main]

use core::hint::black_box;

use ws_footprint::{Client, LoopStack, Rng, Server};
use ws_proto::{Instant, SessionEvent};
use ws_transport_esp::{AlwaysReady, ClientConfig, Transport};

#[no_mangle]
pub extern "C" fn _start() -> ! {
    let mut client = Client::new(
        LoopStack(Server::new()),
        AlwaysReady,
        Rng(black_box(0x2545_f491)),
        ClientConfig::default(),
    );
    let mut t = 0u64;
    let id = client.open(
        black_box("ws://echo.local:8080/stream"),
        Instant::from_millis(t),
    );
    let mut done = id.is_err();
    while !done {
        t += 1;
        let now = Instant::from_millis(black_box(t));
        let mut connected = false;
        while let Some((_, ev)) = client.poll(now) {
            match ev {
                SessionEvent::Connected { .. } => connected = true,
                SessionEvent::Closed(d) => {
                    black_box(d);
                    done = true;
                }
                other => {
                    black_box(other);
                }
            }
        }
        if let (true, Ok(id)) = (connected, id) {
            let _ = client.send_text(id, black_box("hello"));
            let _ = client.ping(id, black_box(b"p"));
        }
    }
    black_box(client.connection_count());
    loop {
        core::hint::spin_loop();
    }
}
