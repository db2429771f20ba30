//! Field conditions on real loopback sockets: a silent link is detected by
//! keepalive, and the messages a server sent before it reset the connection
//! are all delivered before the fault, even while a write was pending.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use ws_proto::{Config, Error, LinkError};
use ws_transport_std::ClientConfig;

/// The server answers the handshake, echoes once, then goes silent with TCP
/// open: keepalive ends the connection with `KeepaliveTimeout` within the
/// interval plus the timeout (plus a poll tick).
#[test]
fn silent_server_is_detected_by_keepalive() {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (port, server) = raw_server(move |mut s| {
        handshake(&mut s);
        let (_, payload) = read_frame(&mut s);
        std::io::Write::write_all(&mut s, &frame(0x81, &payload)).unwrap();
        // Silent from here on, the socket open, until the test is done.
        let _ = stop_rx.recv_timeout(Duration::from_secs(20));
    });
    let mut h = Harness::new(ClientConfig {
        proto: Config {
            ping_interval_ms: 300,
            pong_timeout_ms: 300,
            ..Config::default()
        },
        ..ClientConfig::default()
    });
    let id = h.open(&format!("ws://127.0.0.1:{port}/"));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    h.client.send_text(id, "once").unwrap();
    assert_eq!(h.expect(id, 10), Ev::Text("once".into()));
    let silent_from = std::time::Instant::now();
    let end = h.expect(id, 10);
    let took = silent_from.elapsed();
    assert_eq!(end, Ev::Closed(End::Error(Error::KeepaliveTimeout)));
    assert!(took >= Duration::from_millis(590), "too early: {took:?}");
    assert!(took < Duration::from_millis(2_500), "too late: {took:?}");
    // Released at once (no linger for the dead link): the next turn closes it.
    assert!(h.try_next(20).is_none());
    assert_eq!(h.client.lingering(), 0);
    stop_tx.send(()).unwrap();
    server.join().unwrap();
}

/// The server sends N messages and then resets the connection (it closes
/// with the client's bytes unread, so the kernel sends RST) while the client
/// has a large message queued. All N arrive, then the fault.
#[test]
fn messages_before_a_reset_are_delivered_while_a_write_is_pending() {
    const N: usize = 50;
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (port, server) = raw_server(move |mut s| {
        handshake(&mut s);
        // Wait until the client's first frame is in our receive queue, unread.
        go_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        for i in 0..N {
            let f = frame(0x81, format!("message {i}").as_bytes());
            std::io::Write::write_all(&mut s, &f).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        drop(s); // unread bytes: RST, not FIN
        done_tx.send(()).unwrap();
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&format!("ws://127.0.0.1:{port}/"));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    h.client.send_text(id, "left unread by the server").unwrap();
    assert!(h.try_next(100).is_none());
    go_tx.send(()).unwrap();
    // A large message is queued, and nothing is polled until the reset.
    h.client.send_text(id, &text_of(200 << 10)).unwrap();
    done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    for i in 0..N {
        assert_eq!(h.expect(id, 10), Ev::Text(format!("message {i}")), "{i}");
    }
    assert_eq!(h.expect(id, 10), Ev::Closed(End::Link(LinkError::Reset)));
    server.join().unwrap();
}

/// With the default configuration, 1 MiB and 16 MiB text messages go out
/// whole and come back (tungstenite's echo); 17 MiB is refused with
/// `TooLarge` (never `Backpressure`) and the connection stays usable.
#[test]
fn large_messages_round_trip_with_defaults() {
    let (addr, server) = echo_server("127.0.0.1:0", 1);
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&format!("ws://{addr}/"));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    for size in [1 << 20, 16 << 20] {
        let text = text_of(size);
        h.client.send_text(id, &text).unwrap();
        match h.expect(id, 60) {
            Ev::Text(t) => assert!(t == text, "{size}: echo differs"),
            other => panic!("{size}: {other:?}"),
        }
    }
    assert_eq!(
        h.client.send_text(id, &text_of(17 << 20)),
        Err(ws_transport_std::CommandError::Send(
            ws_proto::SendError::TooLarge
        ))
    );
    h.client.send_text(id, "still usable").unwrap();
    assert_eq!(h.expect(id, 10), Ev::Text("still usable".into()));
    h.client.close(id, h.clock.now(), 1000, "").unwrap();
    assert!(matches!(h.expect(id, 10), Ev::Closed(End::Clean(..))));
    server.join().unwrap();
}
