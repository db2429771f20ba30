//! Raw-TCP servers (std::net) that misbehave, and failures below the
//! protocol: each ends in the right typed event, without a panic.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant as StdInstant};

use common::{frame, handshake, raw_server, read_frame, read_request, End, Ev, Harness};
use ws_proto::{Config, Error, HandshakeError, LinkError, ProtocolError, State, UrlError};
use ws_transport_std::{ClientConfig, OpenError};

fn url(port: u16) -> String {
    format!("ws://127.0.0.1:{port}/")
}

#[test]
fn fragmented_messages_with_a_ping_inside() {
    let big: Vec<u8> = (0..120_000u32).map(|i| (i % 253) as u8).collect();
    let big2 = big.clone();
    let (port, server) = raw_server(move |mut s| {
        handshake(&mut s);
        let mut out = Vec::new();
        out.extend(frame(0x01, b"Hel"));
        out.extend(frame(0x89, b"hi"));
        out.extend(frame(0x80, b"lo"));
        out.extend(frame(0x02, &big2[..40_000]));
        out.extend(frame(0x00, &big2[40_000..80_000]));
        out.extend(frame(0x80, &big2[80_000..]));
        // Text split inside a code point: "€" is e2 82 ac.
        out.extend(frame(0x01, b"price \xe2"));
        out.extend(frame(0x80, b"\x82\xac"));
        // Written in small pieces, so frames arrive split at odd places.
        for chunk in out.chunks(997) {
            s.write_all(chunk).unwrap();
        }
        assert_eq!(read_frame(&mut s), (0x8a, b"hi".to_vec()), "pong");
        assert_eq!(read_frame(&mut s), (0x88, vec![0x03, 0xe8]), "close");
        s.write_all(&frame(0x88, &[0x03, 0xe8])).unwrap();
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&url(port));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    assert_eq!(h.expect(id, 10), Ev::Ping(b"hi".to_vec()));
    assert_eq!(h.expect(id, 10), Ev::Text("Hello".into()));
    assert_eq!(h.expect(id, 10), Ev::Binary(big));
    assert_eq!(h.expect(id, 10), Ev::Text("price €".into()));
    h.client.close(id, h.clock.now(), 1000, "").unwrap();
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Clean(Some(1000), String::new()))
    );
    server.join().unwrap();
}

#[test]
fn server_gone_mid_frame_with_fin() {
    let (port, server) = raw_server(|mut s| {
        handshake(&mut s);
        // A 100-byte binary frame, cut after 10 bytes; then a normal close (FIN).
        s.write_all(&[0x82, 100]).unwrap();
        s.write_all(&[7; 10]).unwrap();
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&url(port));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Error(Error::UnexpectedEof { mid_frame: true }))
    );
    assert_eq!(h.client.state(id), None);
    server.join().unwrap();
}

#[test]
fn fin_already_there_with_the_last_bytes_is_seen() {
    // The bytes and the FIN arrive while the client is not polling, so one
    // readiness event reports both; the read of the bytes is short, and the
    // EOF must still be read (no further event comes for it).
    let (port, server) = raw_server(|mut s| {
        handshake(&mut s);
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(&[0x82, 100, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7])
            .unwrap();
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&url(port));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    server.join().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Error(Error::UnexpectedEof { mid_frame: true }))
    );
}

#[test]
fn server_killed_mid_frame_with_reset() {
    let (port, server) = raw_server(|mut s| {
        handshake(&mut s);
        s.write_all(&[0x82, 100]).unwrap();
        s.write_all(&[7; 10]).unwrap();
        // Wait for the client's message and leave it unread: closing a socket
        // with unread data sends RST.
        let mut b = [0u8; 1];
        assert_eq!(s.peek(&mut b).unwrap(), 1);
        std::thread::sleep(Duration::from_millis(50));
        drop(s);
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&url(port));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    h.client.send_text(id, "unread").unwrap();
    assert_eq!(h.expect(id, 10), Ev::Closed(End::Link(LinkError::Reset)));
    server.join().unwrap();
}

#[test]
fn connection_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&url(port));
    assert_eq!(h.expect(id, 10), Ev::Closed(End::Link(LinkError::Refused)));
    assert_eq!(h.client.connection_count(), 0);
}

#[test]
fn unknown_host_fails_with_name_not_found_without_blocking() {
    let mut h = Harness::new(ClientConfig::default());
    let started = StdInstant::now();
    let id = h.open("ws://no-such-host.invalid:9001/");
    let first = h.client.poll(h.clock.now()).map(|(_, e)| common::own(e));
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "open/poll blocked"
    );
    assert!(first.is_none() || first == Some(Ev::Closed(End::Link(LinkError::NameNotFound))));
    assert_eq!(
        h.client.state(id),
        if first.is_none() {
            Some(State::Connecting)
        } else {
            None
        }
    );
    if first.is_none() {
        assert_eq!(
            h.expect(id, 10),
            Ev::Closed(End::Link(LinkError::NameNotFound))
        );
    }
}

#[test]
fn http_404_instead_of_101() {
    let (port, server) = raw_server(|mut s| {
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
            .unwrap();
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&url(port));
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Error(Error::Handshake(HandshakeError::Status(404))))
    );
    server.join().unwrap();
}

#[test]
fn wrong_sec_websocket_accept() {
    let (port, server) = raw_server(|mut s| {
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
            .unwrap();
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&url(port));
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Error(Error::Handshake(HandshakeError::Accept)))
    );
    server.join().unwrap();
}

#[test]
fn protocol_error_sends_its_close_code() {
    let (port, server) = raw_server(|mut s| {
        handshake(&mut s);
        s.write_all(&frame(0x81 | 0x40, b"rsv1")).unwrap();
        assert_eq!(read_frame(&mut s), (0x88, 1002u16.to_be_bytes().to_vec()));
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&url(port));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    let ev = h.expect(id, 10);
    assert_eq!(
        ev,
        Ev::Closed(End::Error(Error::Protocol(ProtocolError::ReservedBits)))
    );
    assert_eq!(
        Error::Protocol(ProtocolError::ReservedBits).close_code_sent(),
        Some(1002)
    );
    // The close frame leaves from the lingering socket.
    h.pump(300);
    server.join().unwrap();
}

#[test]
fn a_message_over_the_limit_closes_with_1009() {
    let (port, server) = raw_server(|mut s| {
        handshake(&mut s);
        // Fragments summing to one byte over the 4 KiB limit.
        s.write_all(&frame(0x02, &[1; 4000])).unwrap();
        s.write_all(&frame(0x80, &[2; 97])).unwrap();
        assert_eq!(read_frame(&mut s), (0x88, 1009u16.to_be_bytes().to_vec()));
    });
    let mut h = Harness::new(ClientConfig {
        max_message_size: 4096,
        ..ClientConfig::default()
    });
    let id = h.open(&url(port));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Error(Error::Protocol(ProtocolError::MessageTooBig)))
    );
    h.pump(300);
    server.join().unwrap();
}

#[test]
fn close_timeout_when_the_server_never_answers() {
    let (port, server) = raw_server(|mut s| {
        handshake(&mut s);
        assert_eq!(read_frame(&mut s).0, 0x88);
        // Keep the socket open, say nothing, until the client gives up.
        let mut b = [0u8; 16];
        let _ = s.read(&mut b);
    });
    let mut h = Harness::new(ClientConfig {
        proto: Config {
            close_timeout_ms: 300,
            ..Config::default()
        },
        ..ClientConfig::default()
    });
    let id = h.open(&url(port));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    let t = StdInstant::now();
    h.client.close(id, h.clock.now(), 1000, "").unwrap();
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Error(Error::CloseTimeout))
    );
    assert!(t.elapsed() >= Duration::from_millis(250));
    h.pump(100);
    drop(h);
    server.join().unwrap();
}

#[test]
fn handshake_timeout_when_the_server_never_answers() {
    let (port, server) = raw_server(|mut s| {
        read_request(&mut s);
        let mut b = [0u8; 16];
        let _ = s.read(&mut b);
    });
    let mut h = Harness::new(ClientConfig {
        proto: Config {
            handshake_timeout_ms: 300,
            ..Config::default()
        },
        ..ClientConfig::default()
    });
    let id = h.open(&url(port));
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Error(Error::HandshakeTimeout))
    );
    drop(h);
    server.join().unwrap();
}

#[test]
fn close_while_connecting_ends_locally() {
    let (port, server) = raw_server(|mut s| {
        let mut b = [0u8; 16];
        while s.read(&mut b).is_ok_and(|n| n > 0) {}
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&url(port));
    h.client.close(id, h.clock.now(), 1000, "").unwrap();
    assert_eq!(h.expect(id, 10), Ev::Closed(End::Local));
    h.pump(100);
    assert_eq!(h.client.lingering(), 0);
    drop(h);
    server.join().unwrap();
}

#[test]
fn bad_urls_are_refused_at_open() {
    let mut h = Harness::new(ClientConfig::default());
    let now = h.clock.now();
    assert_eq!(
        h.client.open("ws://user@127.0.0.1/", now),
        Err(OpenError::Url(UrlError::UserInfo))
    );
    assert_eq!(
        h.client.open("http://127.0.0.1/", now),
        Err(OpenError::Url(UrlError::UnsupportedScheme))
    );
    assert_eq!(
        h.client.open("ws://127.0.0.1:99999/", now),
        Err(OpenError::Url(UrlError::InvalidPort))
    );
    assert_eq!(h.client.connection_count(), 0);
    let tiny = ws_transport_std::Client::new(ClientConfig {
        rx_buffer: 16,
        ..ClientConfig::default()
    });
    assert_eq!(
        tiny.err(),
        Some(ws_transport_std::ConfigError::RxBufferTooSmall)
    );
    // The queue grows up to one largest message: a request over that (here
    // with a 2,000-byte header against a 1,000-byte limit) is refused.
    let mut small = Harness::new(ClientConfig {
        tx_capacity: 300,
        max_message_size: 1_000,
        ..ClientConfig::default()
    });
    let now = small.clock.now();
    let big = "x".repeat(2_000);
    let headers = [("X-Big", big.as_str())];
    let opts = ws_proto::HandshakeOptions {
        headers: &headers,
        ..Default::default()
    };
    assert_eq!(
        small.client.open_with("ws://127.0.0.1:1/", &opts, now),
        Err(OpenError::Request(ws_proto::SendError::RequestTooLarge))
    );
    // Header injection is refused before anything is sent.
    for bad in [
        ("X-A", "a\r\nEvil: 1"),
        ("Upgrade", "h2c"),
        ("Bad Name", "v"),
    ] {
        let headers = [bad];
        let opts = ws_proto::HandshakeOptions {
            headers: &headers,
            ..Default::default()
        };
        assert_eq!(
            small.client.open_with("ws://127.0.0.1:1/", &opts, now),
            Err(OpenError::Request(ws_proto::SendError::InvalidHeader)),
            "{bad:?}"
        );
    }
    assert_eq!(small.client.connection_count(), 0);
}

#[test]
fn connect_timeout_when_the_listen_queue_is_full() {
    // A listener that never accepts: once its queue is full, the kernel drops
    // further SYNs and a connect hangs.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    loop {
        assert!(held.len() < 600, "listen queue never filled");
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    let mut h = Harness::new(ClientConfig {
        connect_timeout_ms: 400,
        ..ClientConfig::default()
    });
    let t = StdInstant::now();
    let id = h.open(&url(addr.port()));
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Link(LinkError::ConnectTimeout))
    );
    assert!(t.elapsed() >= Duration::from_millis(350));
    drop(listener);
}

#[test]
fn close_frame_then_fin_from_the_server_still_gets_the_echo() {
    let (port, server) = raw_server(|mut s| {
        handshake(&mut s);
        s.write_all(&frame(0x88, &[0x03, 0xe9, b'b', b'y', b'e']))
            .unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(read_frame(&mut s), (0x88, vec![0x03, 0xe9]), "close echo");
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&url(port));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Clean(Some(1001), "bye".into()))
    );
    let deadline = h.clock.now().plus_millis(5000);
    while h.client.lingering() > 0 && h.clock.now() < deadline {
        assert!(h.try_next(50).is_none());
    }
    assert_eq!(h.client.lingering(), 0);
    server.join().unwrap();
}
