//! The full transport: `EspClient` over a fake `embedded-nal` stack does DNS,
//! connect, the handshake (with `Sec-WebSocket-Accept` validation), sends a
//! text and a ping, and decodes every frame kind until the server's close.
//!
//! Each call an application makes is its own function (`stack_new`,
//! `stack_open`, `stack_poll`, `stack_send`), never inlined, so that
//! `scripts/footprint.sh` can report the worst stack depth below each. The
//! slots are a `static` (`.bss`), as on a device.
#![no_std]
#![no_main]

use core::hint::black_box;

use ws_footprint::{Client, LoopStack, Rng, Server, Slots};
use ws_proto::{ConnId, Instant, OpenError, SessionEvent};
use ws_transport_esp::{AlwaysReady, ClientConfig, Slot, Transport};

/// The client's slots: empty slots are all zero bytes, so this is `.bss`
/// (no flash, no code to initialize).
static mut SLOTS: Slots = [const { Slot::new() }; 2];
/// The fake network (not the device's code), out of the measured stack.
static mut SERVER: Server = Server::new();

/// `EspClient::new` over the slots in static memory.
#[no_mangle]
#[inline(never)]
fn stack_new(slots: &'static mut Slots, server: &'static mut Server) -> Client {
    Client::new(
        LoopStack(server),
        AlwaysReady,
        Rng(black_box(0x2545_f491)),
        ClientConfig::default(),
        slots,
    )
}

/// `open` (URL, slot, handshake request).
#[no_mangle]
#[inline(never)]
fn stack_open(client: &mut Client, now: Instant) -> Result<ConnId, OpenError> {
    client.open(black_box("ws://echo.local:8080/stream"), now)
}

/// One turn of `poll` until `None`: (connected, closed).
#[no_mangle]
#[inline(never)]
fn stack_poll(client: &mut Client, now: Instant) -> (bool, bool) {
    let (mut connected, mut closed) = (false, false);
    while let Some((_, ev)) = client.poll(now) {
        match ev {
            SessionEvent::Connected { .. } => connected = true,
            SessionEvent::Closed(d) => {
                black_box(d);
                closed = true;
            }
            other => {
                black_box(other);
            }
        }
    }
    (connected, closed)
}

/// `send_text` and `ping`.
#[no_mangle]
#[inline(never)]
fn stack_send(client: &mut Client, id: ConnId) {
    let _ = client.send_text(id, black_box("hello"));
    let _ = client.ping(id, black_box(b"p"));
}

#[no_mangle]
pub extern "C" fn _start() -> ! {
    // SAFETY: `_start` runs once, alone (one hart, no interrupts), and this
    // is the only place that names SLOTS and SERVER: the references are unique.
    let (slots, server) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(SLOTS),
            &mut *core::ptr::addr_of_mut!(SERVER),
        )
    };
    let mut client = stack_new(slots, server);
    let mut t = 0u64;
    let id = stack_open(&mut client, Instant::from_millis(t));
    let mut done = id.is_err();
    while !done {
        t += 1;
        let (connected, closed) = stack_poll(&mut client, Instant::from_millis(black_box(t)));
        done = closed;
        if let (true, Ok(id)) = (connected, id) {
            stack_send(&mut client, id);
        }
    }
    black_box(client.connection_count());
    loop {
        core::hint::spin_loop();
    }
}
