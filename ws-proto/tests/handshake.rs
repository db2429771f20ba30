//! Opening handshake through a whole `Connection`: rejected responses end the
//! connection with a typed `HandshakeError` and send nothing (there is no
//! WebSocket yet to close), and bytes after the `101` header are the first
//! frames, delivered and never lost, however the input is split.

mod common;

use common::*;
use ws_proto::{Config, Error, Event, HandshakeError, HandshakeOptions, Instant, SendError, State};

/// Feeds `resp` to a fresh connection and returns the error it ends with.
fn handshake_error(seed: u64, config: Config, resp: impl FnOnce(&[u8]) -> Vec<u8>) -> Error {
    let mut conn = connecting(seed, config, TX_CAP);
    let (_, key) = take_request(&mut conn);
    let out = feed(&mut conn, &resp(&key));
    assert_eq!(out.events, vec![]);
    assert_eq!(conn.state(), State::Closed);
    assert!(
        conn.transmit().is_empty(),
        "nothing is sent after a failed handshake"
    );
    assert!(conn.is_finished());
    assert_eq!(conn.send_text("x"), Err(SendError::Closed));
    out.error.expect("the handshake should fail")
}

#[test]
fn status_404() {
    let e = handshake_error(1, Config::default(), |_| {
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
    });
    assert_eq!(e, Error::Handshake(HandshakeError::Status(404)));
    assert_eq!(e.close_code_sent(), None);
}

#[test]
fn status_200_and_redirect() {
    for (status, code) in [
        ("200 OK", 200),
        ("302 Found", 302),
        ("426 Upgrade Required", 426),
    ] {
        let e = handshake_error(2, Config::default(), |_| {
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").into_bytes()
        });
        assert_eq!(e, Error::Handshake(HandshakeError::Status(code)));
    }
}

#[test]
fn wrong_accept() {
    // The accept of another key (the RFC's sample) is wrong for ours.
    let e = handshake_error(3, Config::default(), |_| {
        response_for(b"dGhlIHNhbXBsZSBub25jZQ==", "")
    });
    assert_eq!(e, Error::Handshake(HandshakeError::Accept));
}

#[test]
fn missing_accept() {
    let e = handshake_error(4, Config::default(), |_| {
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            .to_vec()
    });
    assert_eq!(e, Error::Handshake(HandshakeError::Accept));
}

#[test]
fn extension_not_offered() {
    let e = handshake_error(5, Config::default(), |key| {
        response_for(key, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
    });
    assert_eq!(e, Error::Handshake(HandshakeError::Extension));
}

#[test]
fn subprotocol_not_offered() {
    let e = handshake_error(6, Config::default(), |key| {
        response_for(key, "Sec-WebSocket-Protocol: chat\r\n")
    });
    assert_eq!(e, Error::Handshake(HandshakeError::Protocol));
}

#[test]
fn missing_upgrade_and_connection() {
    let e = handshake_error(7, Config::default(), |key| {
        let r = String::from_utf8(response_for(key, "")).unwrap();
        r.replace("Upgrade: websocket\r\n", "").into_bytes()
    });
    assert_eq!(e, Error::Handshake(HandshakeError::Upgrade));
    let e = handshake_error(8, Config::default(), |key| {
        let r = String::from_utf8(response_for(key, "")).unwrap();
        r.replace("Connection: Upgrade\r\n", "Connection: keep-alive\r\n")
            .into_bytes()
    });
    assert_eq!(e, Error::Handshake(HandshakeError::Connection));
}

/// A complete header longer than `max_response_header` is refused.
#[test]
fn header_over_limit_complete() {
    let config = Config {
        max_response_header: 256,
        ..Config::default()
    };
    let pad = format!("X-Pad: {}\r\n", "a".repeat(200));
    let e = handshake_error(9, config, |key| response_for(key, &pad));
    assert_eq!(e, Error::Handshake(HandshakeError::HeaderTooLarge));
    // Just under the limit it is accepted.
    let mut conn = connecting(9, config, TX_CAP);
    let (_, key) = take_request(&mut conn);
    let base = response_for(&key, "").len();
    let pad = format!("X-Pad: {}\r\n", "a".repeat(256 - base - 9));
    let resp = response_for(&key, &pad);
    assert_eq!(resp.len(), 256);
    let out = feed(&mut conn, &resp);
    assert_eq!((out.events, out.error), (vec![Ev::Connected(None)], None));
}

/// A header that never ends is refused once it passes the limit, without
/// waiting for the end (the server controls its length).
#[test]
fn header_over_limit_unterminated() {
    let config = Config {
        max_response_header: 256,
        ..Config::default()
    };
    let mut conn = connecting(10, config, TX_CAP);
    let (_, key) = take_request(&mut conn);
    let mut resp = response_for(&key, "");
    resp.truncate(resp.len() - 2); // no blank line yet
    let mut feeder = Feeder::new();
    let mut error = None;
    for i in 0..10_000 {
        let line = format!("X-{i}: v\r\n");
        let out = feeder.push(&mut conn, if i == 0 { &resp } else { line.as_bytes() });
        assert_eq!(out.events, vec![]);
        if out.error.is_some() {
            error = out.error;
            break;
        }
        assert!(
            feeder.pending.len() < 256,
            "buffered {} bytes",
            feeder.pending.len()
        );
    }
    assert_eq!(
        error,
        Some(Error::Handshake(HandshakeError::HeaderTooLarge))
    );
    assert!(feeder.pending.len() >= 256);
    assert_eq!(conn.state(), State::Closed);
}

#[test]
fn malformed_response() {
    let e = handshake_error(11, Config::default(), |_| {
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec()
    });
    assert_eq!(e, Error::Handshake(HandshakeError::Malformed));
}

/// The frames the server sends right after its `101` arrive in the same read
/// as the header: they are delivered, not dropped.
#[test]
fn frames_after_the_header_in_one_piece() {
    let mut conn = connecting(12, Config::default(), TX_CAP);
    let (_, key) = take_request(&mut conn);
    let frames = [
        frame(TEXT, b"first"),
        frame(PING, b"p"),
        frame(BIN, &[1, 2, 3]),
    ]
    .concat();
    let input = [response_for(&key, ""), frames].concat();
    let out = feed(&mut conn, &input);
    assert_eq!(out.error, None);
    assert_eq!(
        out.events,
        vec![
            Ev::Connected(None),
            Ev::Text("first".into()),
            Ev::Ping(b"p".to_vec()),
            Ev::Binary(vec![1, 2, 3]),
        ]
    );
    // The pong went out too.
    let f = drain(&mut conn);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].payload, b"p");
}

/// The same, split at every byte: each split gives the same messages.
#[test]
fn frames_after_the_header_split_at_every_byte() {
    let frames = [
        frame(TEXT, b"first"),
        ServerFrame::new(BIN, b"ab").fin(false).bytes(),
        frame(CONT, b"c"),
    ]
    .concat();
    let expect = vec![
        Msg::Connected,
        Msg::Text("first".into()),
        Msg::Binary(b"abc".to_vec()),
    ];
    let probe = {
        let mut c = connecting(13, Config::default(), TX_CAP);
        take_request(&mut c).1
    };
    let total = response_for(&probe, "").len() + frames.len();
    // Every byte natively; every 7th under Miri, which interprets each one.
    for cut in (0..=total).step_by(if cfg!(miri) { 7 } else { 1 }) {
        let mut conn = connecting(13, Config::default(), TX_CAP);
        let (_, key) = take_request(&mut conn);
        assert_eq!(key, probe);
        let input = [response_for(&key, ""), frames.clone()].concat();
        let (msgs, err) = feed_assembled(&mut conn, &input, &[cut], 64);
        assert_eq!(err, None, "cut {cut}");
        assert_eq!(msgs, expect, "cut {cut}");
    }
    // And one byte at a time.
    let mut conn = connecting(13, Config::default(), TX_CAP);
    let (_, key) = take_request(&mut conn);
    let input = [response_for(&key, ""), frames].concat();
    let cuts: Vec<usize> = (0..input.len()).collect();
    let (msgs, err) = feed_assembled(&mut conn, &input, &cuts, 64);
    assert_eq!((msgs, err), (expect, None));
}

/// A response that is still incomplete consumes nothing: the caller keeps it.
#[test]
fn partial_response_consumes_nothing() {
    let mut conn = connecting(14, Config::default(), TX_CAP);
    let (_, key) = take_request(&mut conn);
    let resp = response_for(&key, "");
    for n in 0..resp.len() {
        let r = conn.recv(Instant::ZERO, &resp[..n]).unwrap();
        assert_eq!((r.consumed, r.event()), (0, None), "at {n}");
        assert_eq!(conn.state(), State::Connecting);
    }
    let r = conn.recv(Instant::ZERO, &resp).unwrap();
    assert_eq!(r.event(), Some(Event::Connected { protocol: None }));
}

/// Commands before the handshake completes are refused with `NotOpen`.
#[test]
fn sends_before_open_are_refused() {
    let mut conn = connecting(15, Config::default(), TX_CAP);
    let pending = conn.transmit().len();
    assert_eq!(conn.send_text("x"), Err(SendError::NotOpen));
    assert_eq!(conn.send_binary(b"x"), Err(SendError::NotOpen));
    assert_eq!(conn.ping(b"x"), Err(SendError::NotOpen));
    assert!(!conn.can_send(1));
    assert_eq!(conn.transmit().len(), pending);
}

/// `close()` before the handshake completes abandons the connection: the
/// request is dropped and nothing else is sent.
#[test]
fn close_while_connecting_abandons() {
    let mut conn = connecting(16, Config::default(), TX_CAP);
    assert!(!conn.transmit().is_empty());
    conn.close(Instant::ZERO, 1000, "").unwrap();
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.is_finished());
    assert_eq!(conn.handle_eof(0), Ok(()));
}

/// Extra request headers are written; a header the client sets itself is
/// refused.
#[test]
fn extra_headers() {
    let opts = HandshakeOptions {
        protocols: &[],
        headers: &[("Origin", "http://example.com")],
    };
    let mut conn = connecting_with(TestRng::new(17), Config::default(), TX_CAP, &opts);
    let (req, _) = take_request(&mut conn);
    assert!(req.contains("\r\nOrigin: http://example.com\r\n"), "{req}");
    let url = ws_proto::Url::parse(URL).unwrap();
    let bad = HandshakeOptions {
        protocols: &[],
        headers: &[("Sec-WebSocket-Key", "x")],
    };
    let r = ws_proto::Connection::new(
        TestRng::new(17),
        vec![0u8; TX_CAP],
        &url,
        &bad,
        Config::default(),
        Instant::ZERO,
    );
    assert_eq!(r.err(), Some(SendError::InvalidHeader));
    // A queue too small for the request or the control reserve is refused.
    let r = ws_proto::Connection::new(
        TestRng::new(17),
        vec![0u8; 100],
        &url,
        &HandshakeOptions::default(),
        Config::default(),
        Instant::ZERO,
    );
    assert_eq!(r.err(), Some(SendError::RequestTooLarge));
}

/// `Connection::new` documents `RequestTooLarge` for storage "smaller than the
/// control reserve plus the request": the request must not eat the room kept
/// for the close frame (a server can answer the key before the rest of the
/// request is written, leaving part of it pending).
#[test]
fn queue_must_hold_request_plus_reserve() {
    let url = ws_proto::Url::parse(URL).unwrap();
    let new = |cap: usize| {
        ws_proto::Connection::new(
            TestRng::new(18),
            vec![0u8; cap],
            &url,
            &HandshakeOptions::default(),
            Config::default(),
            Instant::ZERO,
        )
    };
    let request_len = new(TX_CAP).unwrap().transmit().len();
    let need = ws_proto::queue::CONTROL_RESERVE + request_len;
    assert_eq!(new(need - 1).err(), Some(SendError::RequestTooLarge));
    assert_eq!(
        new(ws_proto::queue::CONTROL_RESERVE).err(),
        Some(SendError::RequestTooLarge)
    );
    let mut conn = new(need).unwrap();
    assert_eq!(conn.transmit().len(), request_len);
    // With the smallest queue, a server that answers while the whole request
    // is still pending can still be closed properly.
    let (_, key) = {
        let req = String::from_utf8(conn.transmit().to_vec()).unwrap();
        let key = req
            .split("\r\n")
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_owned();
        (req, key)
    };
    let out = feed(&mut conn, &response_for(key.as_bytes(), ""));
    assert_eq!(out.events, vec![Ev::Connected(None)]);
    conn.close(Instant::ZERO, 1000, &"r".repeat(123)).unwrap();
    let bytes = conn.transmit().to_vec();
    let (frames, used) = parse_client_frames(&bytes[request_len..]);
    assert_eq!(used, bytes.len() - request_len);
    assert_eq!(frames[0].close_code(), Some(1000));
}
