//! Against an independent server (tungstenite, server side, in threads) on
//! loopback: echoes at the frame-length boundaries and the size limit, ping,
//! close from either side, backpressure, 16 connections, IPv6, DNS.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{binary_of, echo, echo_server, text_of, tungstenite_server, End, Ev, Harness};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use ws_proto::{SendError, State};
use ws_transport_std::{ClientConfig, CommandError, OpenError};

const LIMIT: usize = 1 << 20;

#[test]
fn echo_text_and_binary_at_boundary_sizes_and_the_limit() {
    let (addr, server) = echo_server("127.0.0.1:0", 1);
    let mut h = Harness::new(ClientConfig {
        max_message_size: LIMIT,
        tx_capacity: LIMIT + 1024,
        ..ClientConfig::default()
    });
    let id = h.open(&format!("ws://{addr}/echo"));
    assert_eq!(h.client.state(id), Some(State::Connecting));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    assert_eq!(h.client.state(id), Some(State::Open));
    for n in [0, 1, 125, 126, 127, 65535, 65536, 65537, LIMIT] {
        let text = text_of(n);
        h.client.send_text(id, &text).unwrap();
        assert_eq!(h.expect(id, 10), Ev::Text(text), "text of {n} bytes");
        let bin = binary_of(n);
        h.client.send_binary(id, &bin).unwrap();
        assert_eq!(h.expect(id, 10), Ev::Binary(bin), "binary of {n} bytes");
    }
    // Non-ASCII text, several messages queued at once, order kept.
    let lines = ["café", "日本語", "emoji 😀", ""];
    for l in lines {
        h.client.send_text(id, l).unwrap();
    }
    for l in lines {
        assert_eq!(h.expect(id, 10), Ev::Text(l.to_owned()));
    }
    // One byte over the outbound queue's room can never be sent.
    assert_eq!(
        h.client.send_binary(id, &vec![0; LIMIT + 1024]),
        Err(CommandError::Send(SendError::TooLarge))
    );
    h.client.close(id, h.clock.now(), 1000, "done").unwrap();
    assert_eq!(h.client.state(id), Some(State::Closing));
    assert!(matches!(
        h.expect(id, 10),
        Ev::Closed(End::Clean(Some(1000), _))
    ));
    assert_eq!(h.client.state(id), None);
    server.join().unwrap();
}

#[test]
fn ping_from_the_server_is_answered() {
    let (addr, server) = tungstenite_server("127.0.0.1:0", |mut ws| {
        ws.send(tungstenite::Message::Ping(b"are you there".to_vec().into()))
            .unwrap();
        match ws.read().unwrap() {
            tungstenite::Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
            other => panic!("expected a pong, got {other:?}"),
        }
        ws.send(tungstenite::Message::Text("pong ok".into()))
            .unwrap();
        echo(ws);
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&format!("ws://{addr}/"));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    assert_eq!(h.expect(id, 10), Ev::Ping(b"are you there".to_vec()));
    assert_eq!(h.expect(id, 10), Ev::Text("pong ok".into()));
    // Our own ping gets the server's pong.
    h.client.ping(id, b"mine").unwrap();
    assert_eq!(h.expect(id, 10), Ev::Pong(b"mine".to_vec()));
    h.client.close(id, h.clock.now(), 1000, "").unwrap();
    assert!(matches!(
        h.expect(id, 10),
        Ev::Closed(End::Clean(Some(1000), _))
    ));
    server.join().unwrap();
}

#[test]
fn close_from_the_client_completes_the_handshake() {
    let (tx, rx) = mpsc::channel();
    let (addr, server) = tungstenite_server("127.0.0.1:0", move |mut ws| loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(frame)) => {
                let f = frame.unwrap();
                tx.send((u16::from(f.code), f.reason.to_string())).unwrap();
            }
            Ok(_) => {}
            // The close reply was flushed: tungstenite reports the end.
            Err(tungstenite::Error::ConnectionClosed) => return,
            Err(e) => panic!("server: {e}"),
        }
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&format!("ws://{addr}/"));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    h.client.close(id, h.clock.now(), 4000, "bye now").unwrap();
    assert_eq!(
        h.client.send_text(id, "late"),
        Err(CommandError::Send(SendError::Closed))
    );
    assert!(matches!(
        h.expect(id, 10),
        Ev::Closed(End::Clean(Some(4000), _))
    ));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        (4000, "bye now".to_owned())
    );
    // The socket lingers until the server closes TCP, then is gone.
    let deadline = h.clock.now().plus_millis(5000);
    while h.client.lingering() > 0 && h.clock.now() < deadline {
        assert!(h.try_next(50).is_none());
    }
    assert_eq!(h.client.lingering(), 0);
    server.join().unwrap();
}

#[test]
fn close_from_the_server_completes_the_handshake() {
    let (tx, rx) = mpsc::channel();
    let (addr, server) = tungstenite_server("127.0.0.1:0", move |mut ws| {
        ws.send(tungstenite::Message::Text("before close".into()))
            .unwrap();
        ws.close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "going away".into(),
        }))
        .unwrap();
        // tungstenite returns ConnectionClosed once our close was answered.
        let end = loop {
            match ws.read() {
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        tx.send(matches!(end, tungstenite::Error::ConnectionClosed))
            .unwrap();
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&format!("ws://{addr}/"));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    assert_eq!(h.expect(id, 10), Ev::Text("before close".into()));
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Clean(Some(1001), "going away".into()))
    );
    // The echo of the close frame leaves from the lingering socket.
    let deadline = h.clock.now().plus_millis(5000);
    while h.client.lingering() > 0 && h.clock.now() < deadline {
        assert!(h.try_next(50).is_none());
    }
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "server saw no clean close"
    );
    server.join().unwrap();
}

#[test]
fn backpressure_while_the_server_stops_reading_then_every_frame_arrives_in_order() {
    let (resume_tx, resume_rx) = mpsc::channel::<usize>();
    let (got_tx, got_rx) = mpsc::channel::<Vec<Vec<u8>>>();
    let (addr, server) = tungstenite_server("127.0.0.1:0", move |mut ws| {
        // Stop reading until told how many frames to expect.
        let expected = resume_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let mut got = Vec::new();
        while got.len() < expected {
            match ws.read().unwrap() {
                tungstenite::Message::Binary(b) => got.push(b.to_vec()),
                other => panic!("unexpected {other:?}"),
            }
        }
        got_tx.send(got).unwrap();
        ws.send(tungstenite::Message::Text("all received".into()))
            .unwrap();
        echo(ws);
    });
    let mut h = Harness::new(ClientConfig {
        tx_capacity: 64 << 10,
        ..ClientConfig::default()
    });
    let id = h.open(&format!("ws://{addr}/"));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    let frame = |i: usize| {
        let mut f = format!("frame {i:08} ").into_bytes();
        f.resize(16 << 10, (i % 251) as u8);
        f
    };
    // Send until the queue stays full for 300 ms (kernel buffers full too).
    let mut sent = 0usize;
    let mut full_since = None;
    let give_up = h.clock.now().plus_millis(20_000);
    loop {
        assert!(h.clock.now() < give_up, "queue never filled");
        match h.client.send_binary(id, &frame(sent)) {
            Ok(()) => {
                sent += 1;
                full_since = None;
            }
            Err(CommandError::Send(SendError::Backpressure)) => {
                let now = h.clock.now();
                let since = *full_since.get_or_insert(now);
                if now.millis_since(since) > 300 {
                    break;
                }
                assert_eq!(h.try_next(20), None);
            }
            Err(e) => panic!("send: {e}"),
        }
    }
    assert_eq!(
        h.client.state(id),
        Some(State::Open),
        "connection stays open"
    );
    assert!(sent > 4, "some frames were accepted before backpressure");
    resume_tx.send(sent).unwrap();
    assert_eq!(h.expect(id, 20), Ev::Text("all received".into()));
    let got = got_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(got.len(), sent);
    for (i, g) in got.iter().enumerate() {
        assert!(g == &frame(i), "frame {i} torn or out of order");
    }
    // And the queue works again.
    h.client.send_text(id, "after").unwrap();
    assert_eq!(h.expect(id, 10), Ev::Text("after".into()));
    h.client.close(id, h.clock.now(), 1000, "").unwrap();
    assert!(matches!(h.expect(id, 10), Ev::Closed(End::Clean(..))));
    server.join().unwrap();
}

#[test]
fn sixteen_connections_echo_at_once_and_the_seventeenth_is_refused() {
    let (addr, server) = echo_server("127.0.0.1:0", 16);
    let mut h = Harness::new(ClientConfig::default());
    let url = format!("ws://{addr}/");
    let ids: Vec<_> = (0..16).map(|_| h.open(&url)).collect();
    assert_eq!(h.client.connection_count(), 16);
    assert_eq!(
        h.client.open(&url, h.clock.now()),
        Err(OpenError::TooManyConnections)
    );
    assert_eq!(
        OpenError::TooManyConnections.to_string(),
        "all connection slots are in use"
    );
    let mut connected = 0;
    while connected < 16 {
        let (id, ev) = h.next(10);
        assert!(ids.contains(&id));
        assert_eq!(ev, Ev::Connected);
        connected += 1;
    }
    for (i, id) in ids.iter().enumerate() {
        h.client.send_text(*id, &format!("hello from {i}")).unwrap();
        h.client.send_binary(*id, &binary_of(1000 + i)).unwrap();
    }
    let mut seen = [0; 16];
    for _ in 0..32 {
        let (id, ev) = h.next(10);
        let i = ids.iter().position(|x| *x == id).unwrap();
        match (seen[i], ev) {
            (0, Ev::Text(t)) => assert_eq!(t, format!("hello from {i}")),
            (1, Ev::Binary(b)) => assert_eq!(b, binary_of(1000 + i)),
            (n, ev) => panic!("connection {i}: unexpected {ev:?} after {n} messages"),
        }
        seen[i] += 1;
    }
    for id in &ids {
        h.client.close(*id, h.clock.now(), 1000, "").unwrap();
    }
    let mut closed = 0;
    while closed < 16 {
        let (_, ev) = h.next(10);
        assert!(
            matches!(ev, Ev::Closed(End::Clean(Some(1000), _))),
            "{ev:?}"
        );
        closed += 1;
    }
    assert_eq!(h.client.connection_count(), 0);
    server.join().unwrap();
}

#[test]
fn ipv6_literal() {
    let (addr, server) = echo_server("[::1]:0", 1);
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&format!("ws://[::1]:{}/v6", addr.port()));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    h.client.send_text(id, "over IPv6").unwrap();
    assert_eq!(h.expect(id, 10), Ev::Text("over IPv6".into()));
    h.client.close(id, h.clock.now(), 1000, "").unwrap();
    assert!(matches!(h.expect(id, 10), Ev::Closed(End::Clean(..))));
    server.join().unwrap();
}

#[test]
fn host_name_resolves_on_the_worker_thread() {
    // `localhost` may resolve to ::1 first: that address is refused and the
    // next one is tried.
    let (addr, server) = echo_server("127.0.0.1:0", 1);
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&format!("ws://localhost:{}/", addr.port()));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    h.client.send_text(id, "by name").unwrap();
    assert_eq!(h.expect(id, 10), Ev::Text("by name".into()));
    h.client.close(id, h.clock.now(), 1000, "").unwrap();
    assert!(matches!(h.expect(id, 10), Ev::Closed(End::Clean(..))));
    server.join().unwrap();
}

#[test]
fn an_idle_loop_sleeps_in_wait_and_a_stale_id_is_dead() {
    let (addr, server) = echo_server("127.0.0.1:0", 2);
    let mut h = Harness::new(ClientConfig::default());
    let a = h.open(&format!("ws://{addr}/"));
    assert_eq!(h.expect(a, 10), Ev::Connected);
    // Idle: each wait sleeps its full time instead of spinning.
    let start = std::time::Instant::now();
    let mut turns = 0;
    while start.elapsed() < Duration::from_millis(600) {
        assert!(h.client.poll(h.clock.now()).is_none(), "no event expected");
        h.client
            .wait(h.clock.now(), Duration::from_millis(200))
            .unwrap();
        turns += 1;
    }
    assert!(
        turns <= 5,
        "{turns} loop turns in 600 ms: wait does not sleep"
    );
    // A notifier wakes a wait at once.
    let notifier = h.client.notifier();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        notifier.notify().unwrap();
    });
    let woke = std::time::Instant::now();
    h.client
        .wait(h.clock.now(), Duration::from_secs(5))
        .unwrap();
    assert!(woke.elapsed() < Duration::from_secs(2));
    t.join().unwrap();

    h.client.close(a, h.clock.now(), 1000, "").unwrap();
    assert!(matches!(h.expect(a, 10), Ev::Closed(End::Clean(..))));
    // The next connection gets a new id (a free slot first; a lingering
    // one only when none is free); the old id reaches nothing.
    let b = h.open(&format!("ws://{addr}/"));
    assert_ne!(a, b);
    assert_eq!(h.client.state(a), None);
    assert_eq!(
        h.client.send_text(a, "x"),
        Err(CommandError::UnknownConnection)
    );
    assert_eq!(
        h.client.close(a, h.clock.now(), 1000, ""),
        Err(CommandError::UnknownConnection)
    );
    assert_eq!(h.expect(b, 10), Ev::Connected);
    h.client.send_text(b, "b").unwrap();
    assert_eq!(h.expect(b, 10), Ev::Text("b".into()));
    h.client.close(b, h.clock.now(), 1000, "").unwrap();
    assert!(matches!(h.expect(b, 10), Ev::Closed(End::Clean(..))));
    server.join().unwrap();
}

#[test]
fn a_connection_opened_with_its_own_limits_keeps_them() {
    use ws_proto::{Error, HandshakeOptions, ProtocolError};
    use ws_transport_std::ConnectionLimits;

    // A server that sends 2 KiB as soon as the handshake is done.
    let (small_addr, small_server) = tungstenite_server("127.0.0.1:0", |mut ws| {
        ws.send(tungstenite::Message::Text(text_of(2048).into()))
            .unwrap();
        // The client refuses it with 1009.
        while ws.read().is_ok() {}
    });
    let (big_addr, big_server) = echo_server("127.0.0.1:0", 1);
    let mut h = Harness::new(ClientConfig::default());
    let now = h.clock.now();
    let limits = ConnectionLimits {
        max_message_size: 1024,
        ..ClientConfig::default().limits()
    };
    let url = format!("ws://{small_addr}/");
    let small = h
        .client
        .open_with_limits(&url, &HandshakeOptions::default(), limits, now)
        .unwrap();
    let big = h.open(&format!("ws://{big_addr}/"));
    let mut ended = false;
    let mut echoed = false;
    for _ in 0..8 {
        let Some((id, ev)) = h.try_next(10_000) else {
            break;
        };
        match ev {
            Ev::Connected if id == big => h.client.send_text(big, &text_of(2048)).unwrap(),
            Ev::Connected => assert_eq!(
                h.client.send_text(small, &text_of(2048)),
                Err(CommandError::Send(SendError::TooLarge)),
                "over this connection's own limit"
            ),
            Ev::Text(t) if id == big => {
                assert_eq!(t.len(), 2048);
                echoed = true;
            }
            Ev::Closed(End::Error(e)) if id == small => {
                assert_eq!(e, Error::Protocol(ProtocolError::MessageTooBig));
                ended = true;
            }
            other => panic!("unexpected {other:?} on {id:?}"),
        }
        if ended && echoed {
            break;
        }
    }
    assert!(ended && echoed, "ended {ended}, echoed {echoed}");
    let bad = ConnectionLimits {
        rx_buffer: 16,
        ..limits
    };
    let r = h
        .client
        .open_with_limits(&url, &HandshakeOptions::default(), bad, now);
    assert!(matches!(r, Err(OpenError::Storage(_))), "{r:?}");
    h.client.close(big, h.clock.now(), 1000, "").unwrap();
    h.pump(500);
    small_server.join().unwrap();
    big_server.join().unwrap();
}
