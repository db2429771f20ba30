//! The outbound queue through a whole `Connection`: backpressure refuses whole
//! frames and tears none, the control reserve keeps room for a pong and the
//! close frame, a pong that does not fit holds its ping back until the queue
//! drains, and the send commands check their arguments (fragment sequences,
//! UTF-8, control payload size) before queueing anything.

mod common;

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::queue::{CONTROL_RESERVE, MAX_CONTROL_FRAME};
use ws_proto::{Config, DataKind, Event, Instant, SendError, State};

/// A payload that names its sequence number, so order can be checked.
fn numbered(seq: u32, len: usize) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.resize(len.max(4), seq as u8);
    p
}

/// Fills the queue with 40-byte binary messages until `Backpressure`;
/// returns how many went in.
fn fill(conn: &mut Conn) -> u32 {
    for seq in 0..10_000u32 {
        match conn.send_binary(&numbered(seq, 40)) {
            Ok(()) => {}
            Err(SendError::Backpressure) => return seq,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    panic!("the queue never filled");
}

#[test]
fn backpressure_refuses_whole_frames() {
    let cap = 1024;
    let mut conn = open_with(1, Config::default(), cap);
    let n = fill(&mut conn);
    assert!(n > 0);
    let pending = conn.transmit().len();
    // Data may not use the control reserve.
    assert!(pending <= cap - CONTROL_RESERVE, "{pending}");
    assert!(
        pending + 46 > cap - CONTROL_RESERVE,
        "the next frame really did not fit"
    );
    assert!(!conn.can_send(40));
    // Refused again: nothing added.
    assert_eq!(
        conn.send_text(&"x".repeat(40)),
        Err(SendError::Backpressure)
    );
    assert_eq!(conn.transmit().len(), pending);
    assert_eq!(conn.state(), State::Open, "backpressure does not close");
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), n as usize);
    for (seq, f) in frames.iter().enumerate() {
        assert_eq!((f.opcode, f.fin), (OpCode::Binary, true));
        assert_eq!(f.payload, numbered(seq as u32, 40));
    }
    // Drained, it takes frames again.
    assert!(conn.can_send(40));
    conn.send_text("again").unwrap();
}

/// Sends of varied sizes interleaved with partial drains (the transport
/// writing what the socket takes): the bytes on the wire are exactly the
/// accepted frames, whole and in order, and none of the refused ones.
#[test]
fn nothing_torn_under_partial_drains() {
    let cap = 1500;
    let mut conn = open_with(2, Config::default(), cap);
    let mut rng = TestRng::new(2);
    let mut rand = |n: u32| {
        let mut b = [0u8; 4];
        ws_proto::Random::fill(&mut rng, &mut b).unwrap();
        u32::from_le_bytes(b) % n
    };
    let mut wire = Vec::new();
    let mut accepted = Vec::new();
    let mut refused = 0;
    let rounds = if cfg!(miri) { 300 } else { 2_000u32 };
    for seq in 0..rounds {
        let len = 4 + rand(300) as usize;
        let payload = numbered(seq, len);
        let can = conn.can_send(len);
        match conn.send_binary(&payload) {
            Ok(()) => {
                assert!(can);
                accepted.push(payload);
            }
            Err(SendError::Backpressure) => {
                assert!(!can);
                refused += 1;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
        // The pending bytes always start at a frame boundary or inside the
        // frame the transport is writing; the queue itself ends whole.
        let take = rand(200) as usize;
        let mut out = vec![0u8; take];
        let n = conn.poll_transmit(&mut out);
        wire.extend_from_slice(&out[..n]);
    }
    let mut out = vec![0u8; cap];
    let n = conn.poll_transmit(&mut out);
    wire.extend_from_slice(&out[..n]);
    assert!(conn.transmit().is_empty());
    assert!(refused > 0, "the test should hit backpressure");
    let (frames, used) = parse_client_frames(&wire);
    assert_eq!(used, wire.len());
    let payloads: Vec<Vec<u8>> = frames.into_iter().map(|f| f.payload).collect();
    assert_eq!(payloads, accepted);
}

/// With data filling the queue, a ping still gets its pong, and `close()`
/// still fits after it: the reserve.
#[test]
fn pong_and_close_fit_after_backpressure() {
    let cap = 1024;
    let mut conn = open_with(3, Config::default(), cap);
    let n = fill(&mut conn);
    let out = feed(&mut conn, &frame(PING, &[5; 125]));
    assert_eq!(
        (out.events, out.error),
        (vec![Ev::Ping(vec![5; 125])], None)
    );
    conn.close(Instant::ZERO, 1000, &"r".repeat(123)).unwrap();
    assert_eq!(conn.state(), State::Closing);
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), n as usize + 2);
    let pong = &frames[n as usize];
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (OpCode::Pong, &[5; 125][..])
    );
    let close = &frames[n as usize + 1];
    assert_eq!(close.opcode, OpCode::Close);
    assert_eq!(close.payload.len(), 125);
}

/// When even the pong's share of the reserve is used, the ping is not
/// consumed: `recv` reports nothing and `consumed` stops before the ping.
/// Once `transmit()` is drained, the same input gets its answer.
#[test]
fn pong_that_does_not_fit_stalls_the_ping() {
    let cap = 1024;
    let mut conn = open_with(4, Config::default(), cap);
    fill(&mut conn);
    // The first full-size pong takes the pong reserve.
    let out = feed(&mut conn, &frame(PING, &[1; 125]));
    assert_eq!(out.events, vec![Ev::Ping(vec![1; 125])]);
    let pending = conn.transmit().len();
    assert!(pending + MAX_CONTROL_FRAME + MAX_CONTROL_FRAME > cap);

    // A text frame, then a second ping whose pong does not fit.
    let input = [frame(TEXT, b"t"), frame(PING, &[2; 125])].concat();
    let r = conn.recv(Instant::ZERO, &input).unwrap();
    assert_eq!(r.event(), Some(Event::Text("t")));
    assert_eq!(r.consumed, 3);
    let rest = &input[r.consumed..];
    for _ in 0..3 {
        let r = conn.recv(Instant::ZERO, rest).unwrap();
        assert_eq!(
            (r.consumed, r.event()),
            (0, None),
            "the ping stays unconsumed"
        );
    }
    assert_eq!(conn.transmit().len(), pending, "no pong was queued");
    assert_eq!(conn.state(), State::Open);

    // The close frame still fits (its reserve is untouched).
    // (Checked on a copy of the situation below, to keep this one open.)

    // Drain: the ping is answered now.
    let before = drain(&mut conn);
    assert_eq!(before.last().unwrap().payload, vec![1; 125]);
    let r = conn.recv(Instant::ZERO, rest).unwrap();
    assert_eq!(r.consumed, rest.len());
    assert_eq!(r.event(), Some(Event::Ping(&[2; 125])));
    let after = drain(&mut conn);
    assert_eq!(after.len(), 1);
    assert_eq!(
        (after[0].opcode, after[0].payload.as_slice()),
        (OpCode::Pong, &[2; 125][..])
    );
}

/// The same stall through the feed driver, and `close()` fitting while the
/// ping is held back.
#[test]
fn close_fits_while_a_ping_is_stalled() {
    let cap = 1024;
    let mut conn = open_with(5, Config::default(), cap);
    fill(&mut conn);
    let mut feeder = Feeder::new();
    let out = feeder.push(
        &mut conn,
        &[frame(PING, &[1; 125]), frame(PING, &[2; 125])].concat(),
    );
    assert_eq!(out.events, vec![Ev::Ping(vec![1; 125])]);
    assert_eq!(
        feeder.pending,
        frame(PING, &[2; 125]),
        "the stalled ping is kept"
    );
    conn.close(Instant::ZERO, 1001, &"x".repeat(123)).unwrap();
    let frames = drain(&mut conn);
    let last = frames.last().unwrap();
    assert_eq!(
        (last.opcode, last.close_code()),
        (OpCode::Close, Some(1001))
    );
    // While closing, the held ping is reported and not answered.
    let out = feeder.push(&mut conn, &[]);
    assert_eq!(out.events, vec![Ev::Ping(vec![2; 125])]);
    assert!(conn.transmit().is_empty());
}

/// A server ping flood cannot grow the queue: pongs wait for the transport.
#[test]
fn ping_flood_is_bounded() {
    let cap = 600;
    let mut conn = open_with(6, Config::default(), cap);
    let flood: Vec<u8> = (0..100).flat_map(|i| frame(PING, &[i; 100])).collect();
    let mut feeder = Feeder::new();
    let mut answered = Vec::new();
    let mut events = 0;
    let mut piece: &[u8] = &flood;
    for _ in 0..1_000 {
        let out = feeder.push(&mut conn, piece);
        piece = &[];
        assert_eq!(out.error, None);
        events += out.events.len();
        assert!(conn.transmit().len() <= cap - MAX_CONTROL_FRAME);
        answered.extend(drain(&mut conn).into_iter().map(|f| f.payload[0]));
        if feeder.pending.is_empty() {
            break;
        }
    }
    assert_eq!(events, 100);
    assert_eq!(answered, (0..100).collect::<Vec<u8>>());
}

#[test]
fn fragment_sequences() {
    let mut conn = open(7);
    conn.send_fragment(DataKind::Text, b"Hel", false).unwrap();
    assert_eq!(
        conn.send_fragment(DataKind::Binary, b"x", false),
        Err(SendError::FragmentKind)
    );
    assert_eq!(
        conn.send_fragment(DataKind::Binary, b"x", true),
        Err(SendError::FragmentKind)
    );
    assert_eq!(conn.send_text("x"), Err(SendError::FragmentInProgress));
    assert_eq!(conn.send_binary(b"x"), Err(SendError::FragmentInProgress));
    // Control frames may go between fragments.
    conn.ping(b"p").unwrap();
    conn.send_fragment(DataKind::Text, b"", false).unwrap();
    conn.send_fragment(DataKind::Text, b"lo", true).unwrap();
    // Done: whole messages again, and a new fragmented one of the other kind.
    conn.send_text("whole").unwrap();
    conn.send_fragment(DataKind::Binary, b"\xff", false)
        .unwrap();
    conn.send_fragment(DataKind::Binary, b"\xfe", true).unwrap();
    let frames = drain(&mut conn);
    let seen: Vec<(OpCode, bool, &[u8])> = frames
        .iter()
        .map(|f| (f.opcode, f.fin, f.payload.as_slice()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (OpCode::Text, false, &b"Hel"[..]),
            (OpCode::Ping, true, &b"p"[..]),
            (OpCode::Continuation, false, &b""[..]),
            (OpCode::Continuation, true, &b"lo"[..]),
            (OpCode::Text, true, &b"whole"[..]),
            (OpCode::Binary, false, &b"\xff"[..]),
            (OpCode::Continuation, true, &b"\xfe"[..]),
        ]
    );
}

/// Text fragments are checked as one UTF-8 stream: a code point may span
/// fragments, an invalid one is refused and queues nothing, and the refused
/// fragment leaves the message where it was.
#[test]
fn fragment_utf8() {
    let mut conn = open(8);
    assert_eq!(
        conn.send_fragment(DataKind::Text, b"\xff", false),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(
        conn.send_fragment(DataKind::Text, b"\xe2\x82", true),
        Err(SendError::InvalidUtf8)
    );
    assert!(conn.transmit().is_empty());
    // Nothing started: a whole message is allowed.
    conn.send_text("ok").unwrap();
    conn.send_fragment(DataKind::Text, b"a\xe2\x82", false)
        .unwrap();
    let pending = conn.transmit().len();
    assert_eq!(
        conn.send_fragment(DataKind::Text, b"(", true),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(
        conn.send_fragment(DataKind::Text, b"", true),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(conn.transmit().len(), pending, "nothing queued");
    conn.send_fragment(DataKind::Text, b"\xac", true).unwrap();
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), 3);
    assert_eq!(
        [&frames[1].payload[..], &frames[2].payload[..]].concat(),
        "a€".as_bytes()
    );
    // Binary fragments are not checked.
    conn.send_fragment(DataKind::Binary, b"\xe2", true).unwrap();
}

/// A fragment refused for backpressure leaves the message state unchanged.
#[test]
fn fragment_refused_for_backpressure_changes_nothing() {
    let cap = 1024;
    let mut conn = open_with(9, Config::default(), cap);
    conn.send_fragment(DataKind::Text, b"\xe2", false).unwrap();
    let big = vec![b'a'; 700];
    let mut second = b"\x82\xac".to_vec();
    second.extend_from_slice(&big);
    conn.send_fragment(DataKind::Text, &second, false).unwrap();
    // Third: backpressure, for a valid prefix that ends inside a code point.
    let mut third = vec![b'b'; 200];
    third.push(0xe2);
    assert_eq!(
        conn.send_fragment(DataKind::Text, &third, false),
        Err(SendError::Backpressure)
    );
    drain(&mut conn);
    // The refused fragment's bytes did not count: ending the message now is
    // valid UTF-8.
    conn.send_fragment(DataKind::Text, b"!", true).unwrap();
}

#[test]
fn ping_payload_limit() {
    let mut conn = open(10);
    assert_eq!(conn.ping(&[0; 126]), Err(SendError::ControlTooLong));
    assert!(conn.transmit().is_empty());
    conn.ping(&[0; 125]).unwrap();
    conn.ping(b"").unwrap();
    let frames = drain(&mut conn);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].payload.len(), 125);
}

#[test]
fn invalid_close_codes_refused() {
    let mut conn = open(11);
    for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        assert_eq!(
            conn.close(Instant::ZERO, code, ""),
            Err(SendError::InvalidCloseCode)
        );
    }
    assert_eq!(conn.state(), State::Open);
    assert!(conn.transmit().is_empty());
    conn.send_text("still open").unwrap();
}

/// A frame that can never fit is `TooLarge`, not `Backpressure`.
#[test]
fn too_large_for_the_queue() {
    let cap = 1024;
    let mut conn = open_with(12, Config::default(), cap);
    let room = cap - CONTROL_RESERVE;
    // Header 4 + mask 4: the largest data payload that fits an empty queue.
    let max = room - 8;
    assert_eq!(
        conn.send_binary(&vec![0; max + 1]),
        Err(SendError::TooLarge)
    );
    assert!(conn.transmit().is_empty());
    conn.send_binary(&vec![0; max]).unwrap();
    assert_eq!(conn.transmit().len(), room);
    assert_eq!(conn.send_binary(b""), Err(SendError::Backpressure));
}
