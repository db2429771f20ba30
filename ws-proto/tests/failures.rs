//! One test per rule of RFC 6455 whose violation by the server fails the
//! connection: each asserts the typed error `recv` returns, the close code in
//! the one close frame the client then puts on the wire, and that the
//! connection is closed (and stays closed, sending nothing more).

mod common;

use common::*;
use ws_proto::{Config, DataKind, Error, ProtocolError, SendError, State};

/// Feeds `pieces` to an open connection (with `config`); checks that the
/// events before the failure are `before`, that it fails with `expect` only
/// at the last piece, and that exactly one close frame with the error's code
/// is on the wire afterwards.
fn fails_at_last_piece(config: Config, pieces: &[&[u8]], before: &[Ev], expect: ProtocolError) {
    let mut conn = open_with(0x5eed, config, TX_CAP);
    let mut feeder = Feeder::new();
    let mut events = Vec::new();
    let (last, init) = pieces.split_last().unwrap();
    for p in init {
        let out = feeder.push(&mut conn, p);
        assert_eq!(out.error, None, "failed before the last piece");
        events.extend(out.events);
        assert_eq!(conn.state(), State::Open);
    }
    let out = feeder.push(&mut conn, last);
    events.extend(out.events);
    assert_eq!(events, before);
    assert_eq!(out.error, Some(Error::Protocol(expect)));
    assert_eq!(
        out.error.unwrap().close_code_sent(),
        Some(expect.close_code())
    );
    assert_eq!(conn.state(), State::Closed);
    assert!(!conn.is_finished(), "the close frame is still to be sent");
    expect_close_on_wire(&mut conn, Some(expect.close_code()));
    assert!(conn.is_finished());
    // Closed for good: more input is swallowed, nothing more is sent.
    let out = feeder.push(&mut conn, &frame(PING, b"x"));
    assert_eq!((out.events, out.error), (vec![], None));
    assert!(conn.transmit().is_empty());
    assert_eq!(conn.send_text("x"), Err(SendError::Closed));
    assert_eq!(conn.handle_eof(0), Ok(()));
}

/// [`fails_at_last_piece`] with one piece, no events before, default config.
fn fails(bytes: &[u8], expect: ProtocolError) {
    fails_at_last_piece(Config::default(), &[bytes], &[], expect);
}

#[test]
fn rsv_bits_1002() {
    for rsv in 1..8u8 {
        for op in [TEXT, BIN, CONT, PING, CLOSE] {
            let bytes = ServerFrame::new(op, b"").rsv(rsv).bytes();
            fails(&bytes, ProtocolError::ReservedBits);
        }
    }
    assert_eq!(ProtocolError::ReservedBits.close_code(), 1002);
}

#[test]
fn reserved_opcodes_1002() {
    for op in (0x3..=0x7).chain(0xb..=0xf) {
        fails(&frame(op, b"abc"), ProtocolError::UnknownOpcode);
        // The 2 header bytes are enough: the payload is not awaited.
        fails(&[0x80 | op, 0x05], ProtocolError::UnknownOpcode);
        // Non-final too.
        fails(
            &ServerFrame::new(op, b"").fin(false).bytes(),
            ProtocolError::UnknownOpcode,
        );
    }
}

#[test]
fn masked_server_frame_1002() {
    let bytes = ServerFrame::new(TEXT, b"Hello")
        .masked([0x37, 0xfa, 0x21, 0x3d])
        .bytes();
    // Section 5.7's masked "Hello".
    assert_eq!(
        bytes,
        [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
    );
    fails(&bytes, ProtocolError::MaskedFrame);
    // Masked control frames too, and the header alone is enough.
    fails(
        &ServerFrame::new(PING, b"").masked([1, 2, 3, 4]).bytes(),
        ProtocolError::MaskedFrame,
    );
    let header = ServerFrame::new(BIN, &[0; 300])
        .masked([1, 2, 3, 4])
        .header();
    fails(&header, ProtocolError::MaskedFrame);
}

#[test]
fn control_frame_over_125_1002() {
    for op in [PING, PONG, CLOSE] {
        let mut payload = vec![0x03, 0xe8];
        payload.resize(126, b'a');
        fails(&frame(op, &payload), ProtocolError::ControlFrameTooLong);
        // 126 in the 64-bit form, and the first 2 header bytes are enough.
        let bytes = ServerFrame::new(op, &payload).len_form(Len::Ext64).bytes();
        fails(&bytes[..2], ProtocolError::ControlFrameTooLong);
    }
}

/// 125 bytes is the most a control frame may carry: accepted.
#[test]
fn control_frame_of_125_is_fine() {
    let mut conn = open(1);
    let out = feed(&mut conn, &frame(PING, &[7; 125]));
    assert_eq!(
        (out.events, out.error),
        (vec![Ev::Ping(vec![7; 125])], None)
    );
    assert_eq!(drain(&mut conn)[0].payload, vec![7; 125]);
}

#[test]
fn fragmented_control_frame_1002() {
    for op in [PING, PONG, CLOSE] {
        fails(
            &ServerFrame::new(op, b"").fin(false).bytes(),
            ProtocolError::FragmentedControlFrame,
        );
    }
}

#[test]
fn continuation_without_message_1002() {
    fails(&frame(CONT, b"lo"), ProtocolError::UnexpectedContinuation);
    fails(
        &ServerFrame::new(CONT, b"x").fin(false).bytes(),
        ProtocolError::UnexpectedContinuation,
    );
    // After a complete fragmented message, a stray continuation.
    let first = ServerFrame::new(TEXT, b"Hel").fin(false).bytes();
    let last = frame(CONT, b"lo");
    fails_at_last_piece(
        Config::default(),
        &[&first, &last, &frame(CONT, b"!")],
        &[
            Ev::Fragment(DataKind::Text, b"Hel".to_vec(), false),
            Ev::Fragment(DataKind::Text, b"lo".to_vec(), true),
        ],
        ProtocolError::UnexpectedContinuation,
    );
}

#[test]
fn new_data_frame_inside_fragmented_message_1002() {
    for (op, kind) in [(TEXT, DataKind::Text), (BIN, DataKind::Binary)] {
        for next in [TEXT, BIN] {
            let first = ServerFrame::new(op, b"a").fin(false).bytes();
            fails_at_last_piece(
                Config::default(),
                &[&first, &frame(next, b"b")],
                &[Ev::Fragment(kind, b"a".to_vec(), false)],
                ProtocolError::ExpectedContinuation,
            );
        }
    }
}

#[test]
fn length_with_top_bit_1002() {
    let bytes = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
    fails(&bytes, ProtocolError::LengthOverflow);
    fails(
        &[0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ProtocolError::LengthOverflow,
    );
    // Even with no size limit at all, the top bit is a protocol error (1002).
    let config = config_max(u64::MAX);
    fails_at_last_piece(
        config,
        &[&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]],
        &[],
        ProtocolError::LengthOverflow,
    );
}

#[test]
fn invalid_utf8_single_frame_1007() {
    fails(&frame(TEXT, b"\xff"), ProtocolError::InvalidUtf8);
    fails(&frame(TEXT, b"ok\xc0\xafok"), ProtocolError::InvalidUtf8); // overlong '/'
    fails(&frame(TEXT, b"\xed\xa0\x80"), ProtocolError::InvalidUtf8); // surrogate
    fails(
        &frame(TEXT, b"\xf4\x90\x80\x80"),
        ProtocolError::InvalidUtf8,
    ); // > U+10FFFF
    assert_eq!(ProtocolError::InvalidUtf8.close_code(), 1007);
}

/// Binary frames are not checked for UTF-8.
#[test]
fn binary_is_not_utf8_checked() {
    let mut conn = open(2);
    let out = feed(&mut conn, &frame(BIN, b"\xff\xfe"));
    assert_eq!(
        (out.events, out.error),
        (vec![Ev::Binary(b"\xff\xfe".to_vec())], None)
    );
}

/// The invalid byte alone triggers the failure: the rest of the frame
/// (which would take a long time, or never come) is not awaited.
#[test]
fn invalid_utf8_fails_fast_1007() {
    let payload = b"Hello\xffworld, and much more after it";
    let bytes = frame(TEXT, payload);
    let header = &bytes[..2];
    fails_at_last_piece(
        Config::default(),
        &[header, b"Hello", b"\xff"],
        &[Ev::Fragment(DataKind::Text, b"Hello".to_vec(), false)],
        ProtocolError::InvalidUtf8,
    );
    // Autobahn 6.4.x: f4 90 can never start a code point, known at the 0x90
    // even though the sequence is unfinished.
    let bytes = frame(TEXT, b"\xce\xba\xf4\x90\x80\x80");
    fails_at_last_piece(
        Config::default(),
        &[&bytes[..2], &bytes[2..5], &bytes[5..6]],
        &[Ev::Fragment(
            DataKind::Text,
            b"\xce\xba\xf4".to_vec(),
            false,
        )],
        ProtocolError::InvalidUtf8,
    );
}

/// The same in the middle of a fragmented message.
#[test]
fn invalid_utf8_fails_fast_in_a_continuation_1007() {
    let first = ServerFrame::new(TEXT, b"ok").fin(false).bytes();
    let second = frame(CONT, b"\xc3(rest that never arrives");
    fails_at_last_piece(
        Config::default(),
        &[&first, &second[..3], &second[3..4]],
        &[
            Ev::Fragment(DataKind::Text, b"ok".to_vec(), false),
            Ev::Fragment(DataKind::Text, b"\xc3".to_vec(), false),
        ],
        ProtocolError::InvalidUtf8,
    );
}

/// A code point split across two fragments is valid and delivered whole.
#[test]
fn code_point_split_across_fragments_is_valid() {
    let euro = "€".as_bytes(); // e2 82 ac
    for cut in 1..3 {
        let bytes = [
            ServerFrame::new(TEXT, &[b"a", &euro[..cut]].concat())
                .fin(false)
                .bytes(),
            frame(CONT, &[&euro[cut..], b"b"].concat()),
        ]
        .concat();
        let mut conn = open(3);
        let out = feed(&mut conn, &bytes);
        assert_eq!(out.error, None);
        assert_eq!(assemble(&out.events), vec![Msg::Text("a€b".into())]);
    }
    // Three fragments, one byte of the code point each.
    let bytes = [
        ServerFrame::new(TEXT, &euro[..1]).fin(false).bytes(),
        ServerFrame::new(CONT, &euro[1..2]).fin(false).bytes(),
        frame(CONT, &euro[2..]),
    ]
    .concat();
    let mut conn = open(4);
    let out = feed(&mut conn, &bytes);
    assert_eq!(out.error, None);
    assert_eq!(assemble(&out.events), vec![Msg::Text("€".into())]);
}

/// A code point split across fragments whose second half is wrong: 1007.
#[test]
fn code_point_split_across_fragments_invalid_1007() {
    let first = ServerFrame::new(TEXT, b"a\xe2\x82").fin(false).bytes();
    fails_at_last_piece(
        Config::default(),
        &[&first, &frame(CONT, b"(")],
        &[Ev::Fragment(DataKind::Text, b"a\xe2\x82".to_vec(), false)],
        ProtocolError::InvalidUtf8,
    );
}

/// A text message may not end in the middle of a code point.
#[test]
fn text_ending_mid_code_point_1007() {
    // In one frame.
    fails(&frame(TEXT, b"a\xe2\x82"), ProtocolError::InvalidUtf8);
    // In one frame that arrives in pieces.
    let bytes = frame(TEXT, b"a\xe2\x82");
    fails_at_last_piece(
        Config::default(),
        &[&bytes[..4], &bytes[4..]],
        &[Ev::Fragment(DataKind::Text, b"a\xe2".to_vec(), false)],
        ProtocolError::InvalidUtf8,
    );
    // Across fragments.
    let first = ServerFrame::new(TEXT, b"a").fin(false).bytes();
    fails_at_last_piece(
        Config::default(),
        &[&first, &frame(CONT, b"\xe2")],
        &[Ev::Fragment(DataKind::Text, b"a".to_vec(), false)],
        ProtocolError::InvalidUtf8,
    );
    // With an empty final fragment after the unfinished code point.
    fails_at_last_piece(
        Config::default(),
        &[
            &ServerFrame::new(TEXT, b"\xe2\x82").fin(false).bytes(),
            &frame(CONT, b""),
        ],
        &[Ev::Fragment(DataKind::Text, b"\xe2\x82".to_vec(), false)],
        ProtocolError::InvalidUtf8,
    );
}

#[test]
fn close_payload_of_one_byte_1002() {
    fails(&frame(CLOSE, &[0x03]), ProtocolError::InvalidClosePayload);
}

#[test]
fn invalid_close_codes_1002() {
    for code in [
        0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        fails(&close_frame(code, b""), ProtocolError::InvalidCloseCode);
        fails(
            &close_frame(code, b"reason"),
            ProtocolError::InvalidCloseCode,
        );
    }
}

#[test]
fn close_reason_not_utf8_1007() {
    fails(
        &close_frame(1000, b"\xff"),
        ProtocolError::InvalidCloseReason,
    );
    fails(
        &close_frame(1000, b"ok\xe2\x82"),
        ProtocolError::InvalidCloseReason,
    );
    assert_eq!(ProtocolError::InvalidCloseReason.close_code(), 1007);
}

/// A frame over `max_message_size` fails with 1009 on its header alone,
/// before any of its payload arrives.
#[test]
fn message_too_big_on_the_header_1009() {
    let config = config_max(100);
    for op in [TEXT, BIN] {
        for form in [Len::Minimal, Len::Ext16, Len::Ext64] {
            let header = ServerFrame::new(op, &[b'a'; 101]).len_form(form).header();
            fails_at_last_piece(config, &[&header], &[], ProtocolError::MessageTooBig);
            // Not even a byte of the header is left unread before deciding:
            // one byte short of it, nothing happens yet.
            let mut conn = open_with(5, config, TX_CAP);
            let out = feed(&mut conn, &header[..header.len() - 1]);
            assert_eq!((out.events, out.error), (vec![], None));
        }
    }
    // The largest legal 64-bit length.
    fails_at_last_piece(
        Config::default(),
        &[&[0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
        &[],
        ProtocolError::MessageTooBig,
    );
    assert_eq!(ProtocolError::MessageTooBig.close_code(), 1009);
}

/// Exactly `max_message_size` is fine.
#[test]
fn message_at_the_limit_is_fine() {
    let mut conn = open_with(6, config_max(100), TX_CAP);
    let bytes = [
        frame(BIN, &[1; 100]),
        ServerFrame::new(TEXT, &[b'a'; 60]).fin(false).bytes(),
        frame(CONT, &[b'b'; 40]),
    ]
    .concat();
    let out = feed(&mut conn, &bytes);
    assert_eq!(out.error, None);
    let mut text = "a".repeat(60);
    text.push_str(&"b".repeat(40));
    assert_eq!(
        assemble(&out.events),
        vec![Msg::Binary(vec![1; 100]), Msg::Text(text)]
    );
}

/// The limit counts the whole message, summed over its fragments: the
/// fragment's header that passes it fails, before its payload.
#[test]
fn message_too_big_summed_over_fragments_1009() {
    let config = config_max(100);
    let first = ServerFrame::new(BIN, &[1; 50]).fin(false).bytes();
    let second = ServerFrame::new(CONT, &[2; 50]).fin(false).bytes();
    let third = frame(CONT, &[3; 1]);
    fails_at_last_piece(
        config,
        &[&first, &second, &third[..2]],
        &[
            Ev::Fragment(DataKind::Binary, vec![1; 50], false),
            Ev::Fragment(DataKind::Binary, vec![2; 50], false),
        ],
        ProtocolError::MessageTooBig,
    );
    // Control frames in between do not count.
    let mut conn = open_with(7, config, TX_CAP);
    let bytes = [first.clone(), frame(PING, &[9; 100]), frame(CONT, &[2; 50])].concat();
    let out = feed(&mut conn, &bytes);
    assert_eq!(out.error, None);
    assert_eq!(
        assemble(&out.events),
        vec![
            Msg::Ping(vec![9; 100]),
            Msg::Binary([[1; 50], [2; 50]].concat())
        ]
    );
    // And the count starts again with the next message.
    let out = feed(&mut conn, &[first, frame(CONT, &[2; 50])].concat());
    assert_eq!(out.error, None);
}

/// After our own close, a violation fails the connection without a second
/// close frame (ours is already on the wire).
#[test]
fn violation_while_closing_sends_no_second_close() {
    let mut conn = open(8);
    conn.close(ws_proto::Instant::ZERO, 1000, "").unwrap();
    expect_close_on_wire(&mut conn, Some(1000));
    let out = feed(&mut conn, &frame(0x3, b""));
    assert_eq!(
        out.error,
        Some(Error::Protocol(ProtocolError::UnknownOpcode))
    );
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.transmit().is_empty());
    assert!(conn.is_finished());
}
