//! The close handshake and the timers, through a whole `Connection`:
//! client-initiated close (with its timeout on an injected clock),
//! server-initiated close echoed exactly once, the handshake timeout, and end
//! of stream before, inside and after a frame.

mod common;

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{Config, DataKind, Error, Instant, SendError, State};

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// `close()` queues one masked close frame with the code and reason, refuses
/// further sends, and the server's answer completes the handshake.
#[test]
fn client_initiated_close() {
    let mut conn = open(1);
    conn.close(at(1_000), 1000, "bye").unwrap();
    assert_eq!(conn.state(), State::Closing);
    let wire = conn.transmit().to_vec();
    assert_eq!(wire[0], 0x88, "FIN + close");
    assert_eq!(wire[1], 0x80 | 5, "masked, 2 + 3 bytes");
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, OpCode::Close);
    assert_eq!(frames[0].payload, b"\x03\xe8bye");

    // Sends are refused, and nothing is queued by them.
    assert_eq!(conn.send_text("x"), Err(SendError::Closed));
    assert_eq!(conn.send_binary(b"x"), Err(SendError::Closed));
    assert_eq!(
        conn.send_fragment(DataKind::Text, b"x", true),
        Err(SendError::Closed)
    );
    assert_eq!(conn.ping(b"x"), Err(SendError::Closed));
    assert!(!conn.can_send(1));
    // A second close does nothing.
    conn.close(at(1_001), 1001, "again").unwrap();
    assert!(conn.transmit().is_empty());
    assert_eq!(conn.state(), State::Closing);
    assert!(!conn.is_finished());

    // The server may still send data before its close; it is delivered.
    let out = feed(&mut conn, &frame(TEXT, b"late"));
    assert_eq!(out.events, vec![Ev::Text("late".into())]);
    // A ping while closing is reported; our close is already out.
    let out = feed(&mut conn, &frame(PING, b"p"));
    assert_eq!(out.events, vec![Ev::Ping(b"p".to_vec())]);

    let out = feed(&mut conn, &close_frame(1000, b"ok"));
    assert_eq!(out.events, vec![Ev::Closed(Some(1000), "ok".into())]);
    assert_eq!(out.error, None);
    assert_eq!(conn.state(), State::Closed);
    // No echo: our close was the first.
    assert!(conn.transmit().is_empty());
    assert!(conn.is_finished());
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(conn.handle_eof(0), Ok(()));
    assert_eq!(conn.handle_timeout(at(u64::MAX)), Ok(()));
}

/// `is_finished` waits for the close frame to be transmitted, even when the
/// server's close arrived first.
#[test]
fn finished_only_after_draining() {
    let mut conn = open(2);
    conn.close(at(0), 1001, "").unwrap();
    let out = feed(&mut conn, &close_frame(1001, b""));
    assert_eq!(out.events, vec![Ev::Closed(Some(1001), String::new())]);
    assert_eq!(conn.state(), State::Closed);
    assert!(!conn.is_finished());
    let mut out = [0u8; 3];
    assert_eq!(conn.poll_transmit(&mut out), 3);
    assert!(!conn.is_finished());
    let rest = conn.transmit().len();
    assert_eq!(rest, 2 + 4 + 2 - 3);
    conn.advance_transmit(rest);
    assert!(conn.is_finished());
}

/// The close timer: `poll_timeout` gives the deadline, `handle_timeout`
/// before it is fine, at it fails with `CloseTimeout` and closes.
#[test]
fn close_timeout() {
    let config = Config {
        close_timeout_ms: 5_000,
        ..Config::default()
    };
    let mut conn = open_with(3, config, TX_CAP);
    assert_eq!(conn.poll_timeout(), None, "no timer while open");
    conn.close(at(1_000), 1000, "").unwrap();
    assert_eq!(conn.poll_timeout(), Some(at(6_000)));
    assert_eq!(conn.handle_timeout(at(1_000)), Ok(()));
    assert_eq!(conn.handle_timeout(at(5_999)), Ok(()));
    assert_eq!(conn.state(), State::Closing);
    assert_eq!(conn.handle_timeout(at(6_000)), Err(Error::CloseTimeout));
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(conn.handle_timeout(at(7_000)), Ok(()), "reported once");
    // The close frame is still handed out.
    expect_close_on_wire(&mut conn, Some(1000));
    assert!(conn.is_finished());
}

/// `recv` checks the timer too: input arriving at the deadline is too late.
#[test]
fn close_timeout_through_recv() {
    let mut conn = open_with(4, Config::default(), TX_CAP);
    conn.close(at(0), 1000, "").unwrap();
    let deadline = conn.poll_timeout().unwrap();
    assert_eq!(deadline, at(Config::default().close_timeout_ms));
    let mut feeder = Feeder::new();
    feeder.now = at(deadline.millis() - 1);
    let out = feeder.push(&mut conn, &frame(TEXT, b"a"));
    assert_eq!((out.events, out.error), (vec![Ev::Text("a".into())], None));
    feeder.now = deadline;
    let out = feeder.push(&mut conn, &close_frame(1000, b""));
    assert_eq!((out.events, out.error), (vec![], Some(Error::CloseTimeout)));
    assert_eq!(conn.state(), State::Closed);
}

/// A close from the server is reported and echoed once, with its code (and
/// without its reason).
#[test]
fn server_initiated_close_echoed_once() {
    let mut conn = open(5);
    let out = feed(&mut conn, &close_frame(1001, b"going away"));
    assert_eq!(
        out.events,
        vec![Ev::Closed(Some(1001), "going away".into())]
    );
    assert_eq!(out.error, None);
    assert_eq!(conn.state(), State::Closed);
    assert!(!conn.is_finished());
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, OpCode::Close);
    assert_eq!(frames[0].close_code(), Some(1001));
    assert_eq!(frames[0].payload, 1001u16.to_be_bytes());
    assert!(conn.is_finished());
    // A second close from the server, or our own close(), sends nothing more.
    let out = feed(&mut conn, &close_frame(1000, b""));
    assert_eq!((out.events, out.error), (vec![], None));
    conn.close(at(0), 1000, "").unwrap();
    assert!(conn.transmit().is_empty());
    assert_eq!(conn.send_text("x"), Err(SendError::Closed));
    assert_eq!(conn.handle_eof(0), Ok(()));
}

/// An empty close is answered with an empty close.
#[test]
fn empty_close_echoed_empty() {
    let mut conn = open(6);
    let out = feed(&mut conn, &frame(CLOSE, b""));
    assert_eq!(out.events, vec![Ev::Closed(None, String::new())]);
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, OpCode::Close);
    assert!(frames[0].payload.is_empty());
}

/// The echo is queued after data already queued, in order, and the frames
/// after the server's close are ignored.
#[test]
fn echo_follows_queued_data_and_later_frames_are_ignored() {
    let mut conn = open(7);
    conn.send_text("before").unwrap();
    let bytes = [
        close_frame(3000, b"app"),
        frame(TEXT, b"after"),
        frame(PING, b"x"),
    ]
    .concat();
    let out = feed(&mut conn, &bytes);
    assert_eq!(out.events, vec![Ev::Closed(Some(3000), "app".into())]);
    let frames = drain(&mut conn);
    assert_eq!(
        frames.iter().map(|f| f.opcode).collect::<Vec<_>>(),
        [OpCode::Text, OpCode::Close]
    );
    assert_eq!(frames[1].close_code(), Some(3000));
}

/// The handshake timer starts at `Connection::new`.
#[test]
fn handshake_timeout() {
    let config = Config {
        handshake_timeout_ms: 10_000,
        ..Config::default()
    };
    let mut conn = connecting(8, config, TX_CAP);
    assert_eq!(conn.poll_timeout(), Some(at(10_000)));
    let (_, key) = take_request(&mut conn);
    let resp = response_for(&key, "");
    let mut feeder = Feeder::new();
    feeder.now = at(9_999);
    let out = feeder.push(&mut conn, &resp[..20]);
    assert_eq!((out.events, out.error), (vec![], None));
    assert_eq!(conn.handle_timeout(at(9_999)), Ok(()));
    feeder.now = at(10_000);
    let out = feeder.push(&mut conn, &resp[20..]);
    assert_eq!(
        (out.events, out.error),
        (vec![], Some(Error::HandshakeTimeout))
    );
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.is_finished());
    assert_eq!(conn.poll_timeout(), None);
}

/// `handle_timeout` alone (no input at all) fires the handshake timer.
#[test]
fn handshake_timeout_without_input() {
    let mut conn = connecting(9, Config::default(), TX_CAP);
    let deadline = conn.poll_timeout().unwrap();
    assert_eq!(deadline, at(Config::default().handshake_timeout_ms));
    assert_eq!(conn.handle_timeout(at(deadline.millis() - 1)), Ok(()));
    assert_eq!(conn.handle_timeout(deadline), Err(Error::HandshakeTimeout));
    assert!(conn.transmit().is_empty(), "the unsent request is dropped");
    assert_eq!(conn.state(), State::Closed);
}

/// A completed handshake stops the handshake timer.
#[test]
fn handshake_timer_stops_when_open() {
    let mut conn = open(10);
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(conn.handle_timeout(at(u64::MAX)), Ok(()));
    assert_eq!(conn.state(), State::Open);
}

/// End of stream between frames, before any close: not mid-frame.
#[test]
fn eof_clean_between_frames() {
    let mut conn = open(11);
    let out = feed(&mut conn, &frame(TEXT, b"hi"));
    assert_eq!(out.events.len(), 1);
    assert_eq!(
        conn.handle_eof(0),
        Err(Error::UnexpectedEof { mid_frame: false })
    );
    assert_eq!(conn.state(), State::Closed);
    assert!(
        conn.transmit().is_empty(),
        "no close frame on a dead stream"
    );
}

/// End of stream inside a frame: in its header (unconsumed bytes), in its
/// payload, or between the fragments of a message.
#[test]
fn eof_mid_frame() {
    // Part of a header, left unconsumed.
    let mut conn = open(12);
    let mut feeder = Feeder::new();
    let out = feeder.push(&mut conn, &[0x82, 0x7e, 0x01]);
    assert_eq!((out.events, out.error), (vec![], None));
    assert_eq!(feeder.pending.len(), 3);
    assert_eq!(
        conn.handle_eof(feeder.pending.len()),
        Err(Error::UnexpectedEof { mid_frame: true })
    );

    // Inside a payload.
    let mut conn = open(13);
    let bytes = frame(BIN, &[1; 10]);
    let out = feed(&mut conn, &bytes[..5]);
    assert_eq!(
        out.events,
        vec![Ev::Fragment(DataKind::Binary, vec![1; 3], false)]
    );
    assert_eq!(
        conn.handle_eof(0),
        Err(Error::UnexpectedEof { mid_frame: true })
    );

    // Between fragments.
    let mut conn = open(14);
    let out = feed(&mut conn, &ServerFrame::new(TEXT, b"a").fin(false).bytes());
    assert_eq!(out.events.len(), 1);
    assert_eq!(
        conn.handle_eof(0),
        Err(Error::UnexpectedEof { mid_frame: true })
    );
    assert_eq!(conn.state(), State::Closed);
}

/// End of stream while waiting for the server's close, and after it.
#[test]
fn eof_while_closing_and_after_close() {
    let mut conn = open(15);
    conn.close(at(0), 1000, "").unwrap();
    assert_eq!(
        conn.handle_eof(0),
        Err(Error::UnexpectedEof { mid_frame: false })
    );
    assert_eq!(conn.state(), State::Closed);

    let mut conn = open(16);
    let out = feed(&mut conn, &close_frame(1000, b""));
    assert_eq!(out.events.len(), 1);
    assert_eq!(conn.handle_eof(0), Ok(()));
}

/// End of stream during the handshake.
#[test]
fn eof_during_handshake() {
    let mut conn = connecting(17, Config::default(), TX_CAP);
    assert_eq!(
        conn.handle_eof(0),
        Err(Error::UnexpectedEof { mid_frame: false })
    );
    let mut conn = connecting(18, Config::default(), TX_CAP);
    assert_eq!(
        conn.handle_eof(12),
        Err(Error::UnexpectedEof { mid_frame: true })
    );
}

/// `close()` validates its arguments before changing anything.
#[test]
fn close_arguments_are_checked() {
    let mut conn = open(19);
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        assert_eq!(
            conn.close(at(0), code, ""),
            Err(SendError::InvalidCloseCode),
            "{code}"
        );
    }
    let long = "r".repeat(124);
    assert_eq!(
        conn.close(at(0), 1000, &long),
        Err(SendError::ReasonTooLong)
    );
    assert_eq!(conn.state(), State::Open);
    assert!(conn.transmit().is_empty());
    // 123 bytes of reason fit: a 125-byte close payload.
    conn.close(at(0), 4999, &long[..123]).unwrap();
    let frames = drain(&mut conn);
    assert_eq!(frames[0].payload.len(), 125);
    assert_eq!(frames[0].close_code(), Some(4999));
}
