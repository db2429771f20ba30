//! Host demo of the ESP32 transport: the same `EspClient` an ESP32 runs, over
//! `std-embedded-nal` instead of lwIP. Sends each argument as a text message
//! to a WebSocket echo server and prints what comes back.
//!
//! `cargo run -p ws-transport-esp --example echo -- ws://127.0.0.1:9001/ hello world`

use std::time::{Duration, Instant as StdInstant};

use static_cell::ConstStaticCell;
use ws_proto::{Disconnect, Instant, Message, Random, RandomError, SessionEvent};
use ws_transport_esp::{AlwaysReady, ClientConfig, EspClient, EspSlots, Slot, Transport};

/// The OS random source (on an ESP32: the hardware RNG).
#[derive(Clone)]
struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|_| RandomError)
    }
}

/// The client's sessions and buffers (2 connections, 1 KiB buffers), as on
/// an ESP32: a `static`, all zero bytes (`.bss`), lent once.
static SLOTS: ConstStaticCell<EspSlots<OsRandom, 2, 1024, 1024, 1024>> =
    ConstStaticCell::new([const { Slot::new() }; 2]);

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: echo ws://HOST:PORT/PATH [MESSAGE...]");
        std::process::exit(2);
    };
    let mut messages: Vec<String> = args.collect();
    messages.reverse();
    let start = StdInstant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
    // The ESP32 configuration: 2 connections, 1 KiB buffers.
    let mut client: EspClient<'_, _, _, _, 2, 1024, 1024, 1024> = EspClient::new(
        std_embedded_nal::Stack,
        AlwaysReady,
        OsRandom,
        ClientConfig::default(),
        SLOTS.take(),
    );
    let id = match client.open(&url, now()) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("open: {e}");
            std::process::exit(1);
        }
    };
    let mut open = false;
    let mut waiting = 0;
    while start.elapsed() < Duration::from_secs(30) {
        let mut ended = false;
        while let Some((_, event)) = client.poll(now()) {
            match event {
                SessionEvent::Connected { .. } => {
                    println!("connected");
                    open = true;
                }
                SessionEvent::Message(Message::Text(t)) => {
                    println!("< {t}");
                    waiting -= 1;
                }
                SessionEvent::Message(Message::Binary(b)) => {
                    println!("< {} bytes", b.len());
                    waiting -= 1;
                }
                SessionEvent::Closed(Disconnect::Clean(_)) => {
                    println!("closed");
                    ended = true;
                }
                SessionEvent::Closed(d) => {
                    println!("disconnected: {d}");
                    ended = true;
                }
                _ => {}
            }
        }
        if ended {
            return;
        }
        if open {
            if let Some(m) = messages.pop() {
                match client.send_text(id, &m) {
                    Ok(()) => {
                        println!("> {m}");
                        waiting += 1;
                    }
                    Err(_) => messages.push(m), // backpressure: retry next turn
                }
            } else if waiting == 0 {
                let _ = client.close(id, now(), 1000, "bye");
                open = false;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    eprintln!("timed out");
    std::process::exit(1);
}
