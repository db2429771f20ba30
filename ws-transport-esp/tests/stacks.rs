//! The transport over stacks that misbehave on purpose (wrapping the std stack,
//! still against a real server): a network that is not ready, a stack that
//! says `WouldBlock` at random points and moves one byte at a time, DNS that
//! fails, connects that are refused or never finish, a silent server.

mod common;

use std::net::TcpListener;

use common::*;
use tungstenite::Message;
use ws_proto::{Config, DataKind, Error, LinkError, State};
use ws_transport_esp::{AlwaysReady, ClientConfig, EspClient, OpenError, Transport};

#[test]
fn open_is_refused_until_the_network_is_ready() {
    let (port, server) = serve(echo);
    let clock = Clock::new();
    let ready = Flag::default();
    let mut stack = Chaos::new(1, 0, usize::MAX);
    stack
        .names
        .push(("echo.test", "127.0.0.1".parse().unwrap()));
    let counters = stack.counters.clone();
    let mut c: EspClient<'_, _, _, _, 2, 512, 1024, 1024> = EspClient::new(
        stack,
        ready.clone(),
        OsRandom,
        ClientConfig::default(),
        slots(),
    );
    let url = format!("ws://echo.test:{port}/");
    assert_eq!(c.open(&url, clock.now()), Err(OpenError::NetworkDown));
    assert!(c.poll(clock.now()).is_none());
    // Nothing was allocated: no slot, no socket.
    assert_eq!(c.connection_count(), 0);
    assert_eq!(counters.sockets.get(), 0);
    // The station got its IP.
    ready.0.set(true);
    let id = c.open(&url, clock.now()).unwrap();
    connect(&mut c, &clock, id);
    assert_eq!(counters.sockets.get(), 1);
    c.send_text(id, "now it works").unwrap();
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs[0], (id, Ev::Text("now it works".into())));
    // It lost it again: the connection ends, new opens are refused.
    ready.0.set(false);
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs, vec![(id, Ev::Link(LinkError::NetworkDown))]);
    assert_eq!(c.state(id), None);
    assert_eq!(c.open(&url, clock.now()), Err(OpenError::NetworkDown));
    assert!(c.poll(clock.now()).is_none());
    assert_eq!(counters.closes.get(), 1, "the socket was closed");
    assert_eq!(server.join().unwrap(), 1);
}

/// The messages a chaos run sends; their echoes must come back equal.
fn script() -> Vec<(DataKind, Vec<u8>)> {
    let mut m = Vec::new();
    // Small: the client's 1-byte sends meet Nagle's algorithm on loopback.
    for i in 0..6usize {
        let text = format!("{i}: ünïcödé €𝄞 {}", "ab".repeat(i * 7));
        m.push((DataKind::Text, text.into_bytes()));
        m.push((
            DataKind::Binary,
            (0..i * 30).map(|b| (b * 13 + i) as u8).collect(),
        ));
    }
    m.push((DataKind::Text, Vec::new()));
    m
}

/// A message 12 times the receive buffer, read one byte at a time.
fn bulk() -> Vec<u8> {
    (0..3000u32).map(|i| (i * 31 % 256) as u8).collect()
}

#[test]
fn random_would_block_and_one_byte_io_deliver_the_same_messages() {
    for seed in [1u64, 7, 1234] {
        let (port, server) = serve(|ws| {
            // A text message in two fragments with a ping between them.
            raw(ws, b"\x01\x03Hel\x89\x02hi\x80\x02lo");
            ws.send(Message::Ping(b"chaos".to_vec().into())).unwrap();
            ws.send(Message::binary(bulk())).unwrap();
            echo(ws)
        });
        let clock = Clock::new();
        let mut stack = Chaos::new(seed, 50, 1);
        stack
            .names
            .push(("echo.test", "127.0.0.1".parse().unwrap()));
        let counters = stack.counters.clone();
        let mut c: EspClient<'_, _, _, _, 2, 256, 1024, 4096> = EspClient::new(
            stack,
            AlwaysReady,
            OsRandom,
            ClientConfig::default(),
            slots(),
        );
        let id = c
            .open(&format!("ws://echo.test:{port}/chaos"), clock.now())
            .unwrap();
        let evs = drive(&mut c, &clock, |e| e.len() >= 5);
        let evs: Vec<Ev> = evs.into_iter().map(|e| e.1).collect();
        assert_eq!(
            evs,
            vec![
                Ev::Connected,
                Ev::Ping(b"hi".to_vec()),
                Ev::Text("Hello".into()),
                Ev::Ping(b"chaos".to_vec()),
                Ev::Binary(bulk()),
            ],
            "seed {seed}"
        );
        let script = script();
        let expected: Vec<Ev> = script
            .iter()
            .map(|(k, d)| match k {
                DataKind::Text => Ev::Text(String::from_utf8(d.clone()).unwrap()),
                DataKind::Binary => Ev::Binary(d.clone()),
            })
            .collect();
        let mut next = 0;
        let mut got = Vec::new();
        let start = std::time::Instant::now();
        while got.len() < expected.len() {
            assert!(
                start.elapsed() < LIMIT,
                "seed {seed}: {} of {}",
                got.len(),
                expected.len()
            );
            if let Some((kind, data)) = script.get(next) {
                let r = match kind {
                    DataKind::Text => c.send_text(id, std::str::from_utf8(data).unwrap()),
                    DataKind::Binary => c.send_binary(id, data),
                };
                if r.is_ok() {
                    next += 1;
                }
            }
            while let Some((i, ev)) = c.poll(clock.now()) {
                assert_eq!(i, id);
                got.push(Ev::from(ev));
            }
        }
        assert_eq!(got, expected, "seed {seed}: nothing torn, nothing lost");
        c.close(id, clock.now(), 1000, "").unwrap();
        let evs = drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
        assert_eq!(evs.last().unwrap().1, Ev::Clean(Some(1000), String::new()));
        assert_eq!(join_polling(&mut c, &clock, server), expected.len());
        assert_eq!((counters.sockets.get(), counters.closes.get()), (1, 1));
    }
}

#[test]
fn link_failures_are_reported_as_closed_events() {
    let clock = Clock::new();
    let config = ClientConfig {
        connect_timeout_ms: 50,
        ..ClientConfig::default()
    };
    let mut stack = Chaos::new(3, 0, usize::MAX);
    stack
        .names
        .push(("echo.test", "127.0.0.1".parse().unwrap()));
    let counters = stack.counters.clone();
    let mut c: EspClient<'_, _, _, _, 2, 256, 1024, 256> =
        EspClient::new(stack, AlwaysReady, OsRandom, config, slots());

    // Name not found: no socket is made.
    let id = c.open("ws://nowhere.test/", clock.now()).unwrap();
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs, vec![(id, Ev::Link(LinkError::NameNotFound))]);
    assert_eq!(counters.sockets.get(), 0);

    // Refused: a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs, vec![(id, Ev::Link(LinkError::Refused))]);

    // A connect that never completes times out and its socket is closed.
    c.stack_mut().stall_connect = true;
    let id = c.open("ws://echo.test:9/", clock.now()).unwrap();
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs, vec![(id, Ev::Link(LinkError::ConnectTimeout))]);
    assert!(c.poll(clock.now()).is_none());
    assert_eq!(
        counters.sockets.get(),
        counters.closes.get(),
        "every socket closed"
    );

    // Closing while still connecting abandons the connection.
    let id = c.open("ws://echo.test:9/", clock.now()).unwrap();
    assert_eq!(c.state(id), Some(State::Connecting));
    c.close(id, clock.now(), 1000, "").unwrap();
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs, vec![(id, Ev::Local)]);
    assert!(c.poll(clock.now()).is_none());
    assert_eq!(
        counters.sockets.get(),
        counters.closes.get(),
        "every socket closed"
    );
    assert_eq!(c.connection_count(), 0);
}

#[test]
fn a_server_that_never_answers_the_handshake_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let clock = Clock::new();
    let config = ClientConfig {
        proto: Config {
            handshake_timeout_ms: 100,
            ..Config::default()
        },
        ..ClientConfig::default()
    };
    let mut c: EspClient<'_, _, _, _, 2, 256, 1024, 256> = EspClient::new(
        std_embedded_nal::Stack,
        AlwaysReady,
        OsRandom,
        config,
        slots(),
    );
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs, vec![(id, Ev::Failed(Error::HandshakeTimeout))]);
    drop(listener);
}

#[test]
fn ram_per_connection() {
    type Sock = <std_embedded_nal::Stack as embedded_nal::TcpClientStack>::TcpSocket;
    let slot = ws_transport_esp::slot_size::<std_embedded_nal::Stack, OsRandom, 1024, 1024, 1024>();
    let state = slot - 3 * 1024;
    eprintln!(
        "host (x86_64): slot with 1 KiB RX/TX/MSG = {slot} bytes: {state} bytes of state \
         (socket {} bytes) + 3072 bytes of buffers",
        size_of::<Sock>()
    );
    // A bound that catches a state that grows by accident (64-bit host;
    // riscv32 numbers come from scripts/footprint.sh). The driver's slot
    // keeps the address it connects to and the readiness it was told, and
    // for redirects the hop count and a key per URL visited (18 bytes);
    // an error that names a refused redirect keeps 32 bytes of its location.
    // Plus ws-proto's permessage-deflate state when its feature is on (it is
    // in `cargo test --workspace`, unified from ws-transport-std: one pointer).
    assert!(
        state <= 352 + ws_proto::deflate::CONNECTION_BYTES,
        "{state}"
    );
}
