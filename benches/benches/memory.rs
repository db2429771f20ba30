//! Heap bytes a connection holds, counted by a global allocator wrapper:
//! ws-transport-std's `Client` (default configuration, its real random
//! source) beside tungstenite (default configuration), each connected over
//! loopback to the same echo server, which runs in a child process so that
//! its allocations are not counted. Two figures per client: idle right after
//! the handshake, and after one 64 KiB binary message went out and came back.
//! Prints `memory ...` lines, which `scripts/bench-table.sh` collects.

use std::alloc::System;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use ws_benches::echo_server::{EchoServer, Mode};
use ws_proto::{Message, SessionEvent};
use ws_transport_std::{Client, ClientConfig, Clock};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SERVER_ENV: &str = "WS_MEMORY_BENCH_SERVER";
const MESSAGE: usize = 64 << 10;

/// Net heap bytes held now, relative to `region`'s start (`stats_alloc`
/// already counts a growing realloc in `bytes_allocated` and a shrinking one
/// in `bytes_deallocated`).
fn held(region: &Region<'_, System>) -> i64 {
    let s = region.change();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

fn report(lib: &str, idle: i64, after: i64, settled: i64) {
    println!(
        "memory {lib:<24} idle {idle:>8} B   after a 64 KiB echo {after:>8} B   after 2 small echoes more {settled:>8} B"
    );
}

/// Ours: one connection of a `Client` with the default configuration.
fn ours(url: &str) {
    let clock = Clock::new();
    let before = Region::new(GLOBAL);
    let mut client = Client::new(ClientConfig::default()).unwrap();
    println!(
        "memory ws-transport-std Client::new, 16 slots (no connection): {} B ({} B inline per slot)",
        held(&before),
        ws_transport_std::SLOT_BYTES
    );
    let region = Region::new(GLOBAL);
    let id = client.open(url, clock.now()).unwrap();
    wait_for(&mut client, &clock, |ev| {
        matches!(ev, SessionEvent::Connected { .. })
    });
    let idle = held(&region);
    let payload = vec![7u8; MESSAGE];
    client.send_binary(id, &payload).unwrap();
    drop(payload);
    wait_for(
        &mut client,
        &clock,
        |ev| matches!(ev, SessionEvent::Message(Message::Binary(b)) if b.len() == MESSAGE),
    );
    let after = held(&region);
    // Small messages after it: memory held for the large one goes back.
    for _ in 0..2 {
        client.send_text(id, "small").unwrap();
        wait_for(&mut client, &clock, |ev| {
            matches!(ev, SessionEvent::Message(Message::Text(_)))
        });
    }
    report("ws-transport-std Client", idle, after, held(&region));
    // Steady state through the whole client (sockets, growable buffers):
    // allocations per small echo.
    let counted = Region::new(GLOBAL);
    for _ in 0..1_000 {
        client.send_text(id, "small").unwrap();
        wait_for(&mut client, &clock, |ev| {
            matches!(ev, SessionEvent::Message(Message::Text(_)))
        });
    }
    let s = counted.change();
    println!(
        "memory ws-transport-std Client steady state: {:.2} allocations per 5-byte echo over loopback",
        (s.allocations + s.reallocations) as f64 / 1_000.0
    );
}

fn wait_for(client: &mut Client, clock: &Clock, mut done: impl FnMut(&SessionEvent<'_>) -> bool) {
    let deadline = clock.now().plus_millis(10_000);
    while clock.now() < deadline {
        while let Some((_, ev)) = client.poll(clock.now()) {
            if done(&ev) {
                return;
            }
        }
        client
            .wait(clock.now(), Duration::from_millis(100))
            .unwrap();
    }
    panic!("no such event within 10 s");
}

/// tungstenite: one blocking client with its default configuration.
fn tungstenite_client(url: &str, addr: &str) {
    let region = Region::new(GLOBAL);
    let stream = TcpStream::connect(addr).unwrap();
    let (mut ws, _) = tungstenite::client::client(url, stream).unwrap();
    let idle = held(&region);
    ws.send(tungstenite::Message::Binary(vec![7u8; MESSAGE].into()))
        .unwrap();
    let m = ws.read().unwrap();
    assert_eq!(m.len(), MESSAGE);
    drop(m);
    let after = held(&region);
    for _ in 0..2 {
        ws.send(tungstenite::Message::Text("small".into())).unwrap();
        drop(ws.read().unwrap());
    }
    report("tungstenite", idle, after, held(&region));
}

fn main() {
    if std::env::var_os(SERVER_ENV).is_some() {
        let server = EchoServer::start(Mode::WebSocket).unwrap();
        println!("{}", server.addr());
        // Serve until the parent closes our stdin.
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(SERVER_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut addr = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut addr)
        .unwrap();
    let addr = addr.trim().to_owned();
    let url = format!("ws://{addr}/");
    ours(&url);
    tungstenite_client(&url, &addr);
    drop(child.stdin.take());
    let _ = child.wait();
}
