//! RFC 6455 test vectors driven through a whole `Connection`: the section 1.3
//! key/accept pair and the section 5.7 example frames, in both directions
//! (server frames fed to `recv`, client frames read back from `transmit()`),
//! whole and split into pieces.

mod common;

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{Config, DataKind, Event, HandshakeOptions, Instant, State};

/// Section 1.3: the nonce "the sample nonce" gives the key
/// `dGhlIHNhbXBsZSBub25jZQ==`, answered by `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
#[test]
fn rfc_1_3_key_and_accept() {
    let rng = TestRng::with_prefix(1, b"the sample nonce");
    let mut conn = connecting_with(rng, Config::default(), TX_CAP, &HandshakeOptions::default());
    let (request, key) = take_request(&mut conn);
    assert_eq!(&key, b"dGhlIHNhbXBsZSBub25jZQ==");
    assert!(request.contains("\r\nHost: example.com\r\n"), "{request}");
    assert!(request.contains("\r\nUpgrade: websocket\r\n"), "{request}");
    assert!(request.contains("\r\nConnection: Upgrade\r\n"), "{request}");
    assert!(
        request.contains("\r\nSec-WebSocket-Version: 13\r\n"),
        "{request}"
    );
    let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert_eq!(response_for(&key, ""), resp.to_vec());
    let out = feed(&mut conn, resp);
    assert_eq!(out.events, vec![Ev::Connected(None)]);
    assert_eq!(out.error, None);
    assert_eq!(conn.state(), State::Open);
}

/// Each connection draws a fresh key; the test source is seeded per test so
/// two seeds give two keys.
#[test]
fn keys_come_from_the_random_source() {
    let (_, a) = take_request(&mut connecting(1, Config::default(), TX_CAP));
    let (_, b) = take_request(&mut connecting(2, Config::default(), TX_CAP));
    let (_, a2) = take_request(&mut connecting(1, Config::default(), TX_CAP));
    assert_ne!(a, b);
    assert_eq!(a, a2, "the test source is deterministic");
}

/// Section 5.7: a single-frame unmasked text message "Hello".
#[test]
fn rfc_5_7_single_frame_text() {
    let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    assert_eq!(frame(TEXT, b"Hello"), bytes);
    let mut conn = open(10);
    let r = conn.recv(Instant::ZERO, &bytes).unwrap();
    assert_eq!(r.consumed, 7);
    assert_eq!(r.event(), Some(Event::Text("Hello")));
    // Split at every byte: the same text, as fragments.
    for cut in 1..bytes.len() {
        let mut conn = open(11);
        let out = Feeder::new().push_all(&mut conn, [&bytes[..cut], &bytes[cut..]]);
        assert_eq!(out.error, None);
        assert_eq!(
            assemble(&out.events),
            vec![Msg::Text("Hello".into())],
            "cut {cut}"
        );
    }
}

/// Section 5.7: a fragmented unmasked text message "Hel" + "lo".
#[test]
fn rfc_5_7_fragmented_text() {
    let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
    let second = [0x80, 0x02, 0x6c, 0x6f];
    assert_eq!(ServerFrame::new(TEXT, b"Hel").fin(false).bytes(), first);
    assert_eq!(frame(CONT, b"lo"), second);
    let mut conn = open(12);
    let out = feed(&mut conn, &[&first[..], &second[..]].concat());
    assert_eq!(out.error, None);
    assert_eq!(
        out.events,
        vec![
            Ev::Fragment(DataKind::Text, b"Hel".to_vec(), false),
            Ev::Fragment(DataKind::Text, b"lo".to_vec(), true),
        ]
    );
    assert_eq!(assemble(&out.events), vec![Msg::Text("Hello".into())]);
}

/// Section 5.7: an unmasked ping "Hello" is answered by a masked pong with the
/// same payload.
#[test]
fn rfc_5_7_ping_answered_by_masked_pong() {
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let mut conn = open(13);
    let out = feed(&mut conn, &ping);
    assert_eq!(out.events, vec![Ev::Ping(b"Hello".to_vec())]);
    let wire = conn.transmit().to_vec();
    // 0x8a 0x85: FIN + pong, MASK + 5.
    assert_eq!(&wire[..2], &[0x8a, 0x85]);
    assert_eq!(wire.len(), 2 + 4 + 5);
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, OpCode::Pong);
    assert!(frames[0].fin);
    assert_eq!(frames[0].payload, b"Hello");
    // The mask actually changes the bytes on the wire.
    assert_ne!(&wire[6..], b"Hello");
    assert_eq!(conn.state(), State::Open);
}

/// Section 5.7: an unmasked pong "Hello" (e.g. the answer to our ping) is
/// reported and not answered.
#[test]
fn rfc_5_7_pong_is_reported_not_answered() {
    let mut conn = open(14);
    conn.ping(b"Hello").unwrap();
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].opcode, frames[0].payload.as_slice()),
        (OpCode::Ping, &b"Hello"[..])
    );
    let out = feed(&mut conn, &[0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(out.events, vec![Ev::Pong(b"Hello".to_vec())]);
    assert!(conn.transmit().is_empty());
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Section 5.7: 256 bytes of binary data in a single unmasked frame
/// (0x82 0x7E 0x0100), whole and split inside the header and payload.
#[test]
fn rfc_5_7_binary_256() {
    let payload = pattern(256);
    let bytes = frame(BIN, &payload);
    assert_eq!(&bytes[..4], &[0x82, 0x7e, 0x01, 0x00]);
    let mut conn = open(15);
    let out = feed(&mut conn, &bytes);
    assert_eq!(out.events, vec![Ev::Binary(payload.clone())]);
    for cut in [1, 2, 3, 4, 5, 100, 259] {
        let mut conn = open(16);
        let out = Feeder::new().push_all(&mut conn, [&bytes[..cut], &bytes[cut..]]);
        assert_eq!(out.error, None);
        assert_eq!(
            assemble(&out.events),
            vec![Msg::Binary(payload.clone())],
            "cut {cut}"
        );
    }
}

/// Section 5.7: 64 KiB of binary data in a single unmasked frame
/// (0x82 0x7F 0x0000000000010000).
#[test]
fn rfc_5_7_binary_64k() {
    let payload = pattern(65536);
    let bytes = frame(BIN, &payload);
    assert_eq!(&bytes[..10], &[0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
    let mut conn = open(17);
    let out = feed(&mut conn, &bytes);
    assert_eq!(out.events, vec![Ev::Binary(payload.clone())]);
    // In 4 KiB pieces, as a socket would deliver it.
    let mut conn = open(18);
    let out = Feeder::new().push_all(&mut conn, bytes.chunks(4096));
    assert_eq!(out.error, None);
    assert!(out.events.len() > 1);
    assert_eq!(assemble(&out.events), vec![Msg::Binary(payload)]);
}

/// The non-minimal length forms are accepted too (RFC 6455 only requires the
/// minimal form of senders; a 5-byte payload in the 16- and 64-bit forms).
#[test]
fn non_minimal_lengths_decode() {
    for form in [Len::Ext16, Len::Ext64] {
        let mut conn = open(19);
        let bytes = ServerFrame::new(TEXT, b"Hello").len_form(form).bytes();
        let out = feed(&mut conn, &bytes);
        assert_eq!(out.events, vec![Ev::Text("Hello".into())], "{form:?}");
    }
}

/// Section 5.7, client side: what `send_text` / `send_binary` put on the wire
/// is a masked frame whose unmasked payload is the message, with the RFC's
/// header bytes plus the MASK bit.
#[test]
fn rfc_5_7_client_frames_are_masked() {
    let mut conn = open_with(20, Config::default(), 70_000 + 300);
    conn.send_text("Hello").unwrap();
    let wire = conn.transmit().to_vec();
    assert_eq!(&wire[..2], &[0x81, 0x85]);
    let f = drain(&mut conn);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].opcode, f[0].fin, f[0].payload.as_slice()),
        (OpCode::Text, true, &b"Hello"[..])
    );

    let p256 = pattern(256);
    conn.send_binary(&p256).unwrap();
    assert_eq!(&conn.transmit()[..4], &[0x82, 0xfe, 0x01, 0x00]);
    let f = drain(&mut conn);
    assert_eq!(f[0].payload, p256);

    let p64k = pattern(65536);
    conn.send_binary(&p64k).unwrap();
    assert_eq!(
        &conn.transmit()[..10],
        &[0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]
    );
    let f = drain(&mut conn);
    assert_eq!((f.len(), f[0].opcode), (1, OpCode::Binary));
    assert_eq!(f[0].payload, p64k);
}

/// Every client frame gets its own mask key from the random source: no two
/// of a run of frames share a key, and no key is all zero.
#[test]
fn mask_keys_are_fresh() {
    let mut conn = open(21);
    for i in 0..20u8 {
        conn.send_binary(&[i; 3]).unwrap();
    }
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), 20);
    let mut keys: Vec<[u8; 4]> = frames.iter().map(|f| f.key).collect();
    assert!(keys.iter().all(|k| *k != [0; 4]));
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 20);
}

/// Control frames may arrive between the fragments of a message (section
/// 5.4); the message is still delivered whole and the ping answered.
#[test]
fn control_frames_between_fragments() {
    let mut conn = open(22);
    let bytes = [
        ServerFrame::new(BIN, b"ab").fin(false).bytes(),
        frame(PING, b"p"),
        ServerFrame::new(CONT, b"cd").fin(false).bytes(),
        frame(PONG, b"q"),
        frame(CONT, b"ef"),
        frame(TEXT, b"next"),
    ]
    .concat();
    for cut in 0..=bytes.len() {
        let mut conn2 = open(23);
        let out = Feeder::new().push_all(&mut conn2, [&bytes[..cut], &bytes[cut..]]);
        assert_eq!(out.error, None);
        assert_eq!(
            assemble(&out.events),
            vec![
                Msg::Ping(b"p".to_vec()),
                Msg::Pong(b"q".to_vec()),
                Msg::Binary(b"abcdef".to_vec()),
                Msg::Text("next".into()),
            ],
            "cut {cut}"
        );
    }
    let out = feed(&mut conn, &bytes);
    assert_eq!(
        out.events,
        vec![
            Ev::Fragment(DataKind::Binary, b"ab".to_vec(), false),
            Ev::Ping(b"p".to_vec()),
            Ev::Fragment(DataKind::Binary, b"cd".to_vec(), false),
            Ev::Pong(b"q".to_vec()),
            Ev::Fragment(DataKind::Binary, b"ef".to_vec(), true),
            Ev::Text("next".into()),
        ]
    );
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].opcode, frames[0].payload.as_slice()),
        (OpCode::Pong, &b"p"[..])
    );
}

/// Empty messages: an empty text frame, an empty binary frame, and a
/// fragmented message whose pieces are all empty.
#[test]
fn empty_messages() {
    let mut conn = open(24);
    let bytes = [
        frame(TEXT, b""),
        frame(BIN, b""),
        ServerFrame::new(TEXT, b"").fin(false).bytes(),
        ServerFrame::new(CONT, b"").fin(false).bytes(),
        frame(CONT, b""),
    ]
    .concat();
    let out = feed(&mut conn, &bytes);
    assert_eq!(out.error, None);
    assert_eq!(
        assemble(&out.events),
        vec![
            Msg::Text(String::new()),
            Msg::Binary(Vec::new()),
            Msg::Text(String::new())
        ]
    );
}

/// Fed one byte at a time, a stream gives the same messages as fed whole.
#[test]
fn one_byte_at_a_time() {
    let bytes = [
        frame(TEXT, "κόσμε".as_bytes()),
        ServerFrame::new(TEXT, &"€uro".as_bytes()[..2])
            .fin(false)
            .bytes(),
        frame(CONT, &"€uro".as_bytes()[2..]),
        frame(PING, b""),
        frame(BIN, &pattern(300)),
        close_frame(1000, b"done"),
    ]
    .concat();
    let mut whole = open(25);
    let expect = assemble(&feed(&mut whole, &bytes).events);
    assert_eq!(
        expect,
        vec![
            Msg::Text("κόσμε".into()),
            Msg::Text("€uro".into()),
            Msg::Ping(Vec::new()),
            Msg::Binary(pattern(300)),
            Msg::Closed(Some(1000), "done".into()),
        ]
    );
    let mut conn = open(26);
    let out = Feeder::new().push_all(&mut conn, bytes.chunks(1));
    assert_eq!(out.error, None);
    assert_eq!(assemble(&out.events), expect);
    assert_eq!(conn.state(), State::Closed);
    let frames = drain(&mut conn);
    assert_eq!(
        frames.iter().map(|f| f.opcode).collect::<Vec<_>>(),
        [OpCode::Pong, OpCode::Close]
    );
}

/// The subprotocol the server chose is reported with `Connected`.
#[test]
fn chosen_subprotocol_is_reported() {
    let opts = HandshakeOptions {
        protocols: &["chat", "superchat"],
        headers: &[],
    };
    let mut conn = connecting_with(TestRng::new(27), Config::default(), TX_CAP, &opts);
    let (request, key) = take_request(&mut conn);
    assert!(request.contains("\r\nSec-WebSocket-Protocol: chat, superchat\r\n"));
    let out = feed(
        &mut conn,
        &response_for(&key, "Sec-WebSocket-Protocol: superchat\r\n"),
    );
    assert_eq!(out.events, vec![Ev::Connected(Some("superchat".into()))]);
}

/// A frame longer than the address space of a 32-bit target is streamed, not
/// mistaken for a short whole one (the length is never truncated to `usize`).
#[test]
fn huge_frame_is_streamed_not_truncated() {
    let mut conn = open_with(28, config_max(u64::MAX), TX_CAP);
    let len: u64 = (1 << 32) + 5;
    let mut bytes = vec![0x82, 0x7f];
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(b"0123456789");
    let out = feed(&mut conn, &bytes);
    assert_eq!(out.error, None);
    assert_eq!(
        out.events,
        vec![Ev::Fragment(
            DataKind::Binary,
            b"0123456789".to_vec(),
            false
        )]
    );
    assert_eq!(
        conn.handle_eof(0),
        Err(ws_proto::Error::UnexpectedEof { mid_frame: true })
    );
}

/// A failing random source: no connection without a key; sends are refused
/// with `Random` and queue nothing; a ping whose pong cannot be masked ends
/// the connection with `Error::Random` and sends nothing.
#[test]
fn random_source_failure() {
    let url = ws_proto::Url::parse(URL).unwrap();
    let r = ws_proto::Connection::new(
        TestRng::failing_after(29, 15),
        vec![0u8; TX_CAP],
        &url,
        &HandshakeOptions::default(),
        Config::default(),
        Instant::ZERO,
    );
    assert_eq!(
        r.err(),
        Some(ws_proto::SendError::Random(ws_proto::RandomError))
    );

    // 16 bytes for the key, then 4 for one mask key, then nothing.
    let rng = TestRng::failing_after(29, 16 + 4);
    let mut conn = connecting_with(rng, Config::default(), TX_CAP, &HandshakeOptions::default());
    let (_, key) = take_request(&mut conn);
    assert_eq!(
        feed(&mut conn, &response_for(&key, "")).events,
        vec![Ev::Connected(None)]
    );
    conn.send_text("one").unwrap();
    drain(&mut conn);
    assert_eq!(
        conn.send_text("two"),
        Err(ws_proto::SendError::Random(ws_proto::RandomError))
    );
    assert!(conn.transmit().is_empty());
    assert_eq!(conn.state(), State::Open);
    let out = feed(&mut conn, &frame(PING, b"p"));
    assert_eq!(out.error, Some(ws_proto::Error::Random));
    assert_eq!(out.events, vec![]);
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.transmit().is_empty());
}
