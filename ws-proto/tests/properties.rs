//! Property tests (proptest) over whole connections and the frame codec:
//! (a) any split of a valid server stream gives the same messages and control
//! events as feeding it whole; (b) encoding a masked frame and decoding it is
//! the identity; (c) garbage after the handshake never panics, ends in events
//! or a typed error, and any close frame the client sends carries the code of
//! that error (1002, 1007 or 1009) or echoes the server's close; (d) a
//! corrupted handshake response gives the same outcome however it is split.

mod common;

use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use ws_proto::frame::{encode_masked, header_len, FrameHeader, OpCode};
use ws_proto::mask::apply_mask;
use ws_proto::{Config, Error, State};

const CASES: u32 = if cfg!(miri) { 4 } else { 256 };

/// `CASES` cases (or `PROPTEST_CASES` from the environment, for deeper local
/// runs); under Miri, no failure file (its isolation forbids the file system,
/// which proptest's persistence needs).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let mut config = ProptestConfig::with_cases(cases);
    if cfg!(miri) {
        config.failure_persistence = None;
    }
    config
}

#[derive(Clone, Debug)]
enum Control {
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Clone, Debug)]
enum Item {
    /// A data message: its payload, where it is cut into fragments, and the
    /// control frames sent after each fragment but the last.
    Data {
        text: bool,
        payload: Vec<u8>,
        cuts: Vec<usize>,
        controls: Vec<Option<Control>>,
    },
    Control(Control),
}

fn control() -> impl Strategy<Value = Control> {
    prop_oneof![
        vec(any::<u8>(), 0..=125).prop_map(Control::Ping),
        vec(any::<u8>(), 0..=125).prop_map(Control::Pong),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    let data = (
        any::<bool>(),
        vec(any::<char>(), 0..40),
        vec(any::<u8>(), 0..300),
        vec(0usize..300, 0..4),
        vec(proptest::option::of(control()), 0..4),
    )
        .prop_map(|(text, chars, bytes, cuts, controls)| {
            let payload = if text {
                chars.into_iter().collect::<String>().into_bytes()
            } else {
                bytes
            };
            Item::Data {
                text,
                payload,
                cuts,
                controls,
            }
        });
    prop_oneof![3 => data, 1 => control().prop_map(Item::Control)]
}

fn close_code() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![
        Just(None),
        proptest::sample::select(vec![
            1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011
        ])
        .prop_map(Some),
        (3000u16..5000).prop_map(Some),
    ]
}

fn control_frame(c: &Control, expect: &mut Vec<Msg>, pings: &mut Vec<Vec<u8>>) -> Vec<u8> {
    match c {
        Control::Ping(p) => {
            expect.push(Msg::Ping(p.clone()));
            pings.push(p.clone());
            frame(PING, p)
        }
        Control::Pong(p) => {
            expect.push(Msg::Pong(p.clone()));
            frame(PONG, p)
        }
    }
}

/// The server's frames for `items` and the close, the messages and control
/// events a caller should see, and the pings the client must answer.
fn build(items: &[Item], close: Option<u16>, reason: &str) -> (Vec<u8>, Vec<Msg>, Vec<Vec<u8>>) {
    let mut bytes = Vec::new();
    let mut expect = vec![Msg::Connected];
    let mut pings = Vec::new();
    for item in items {
        match item {
            Item::Control(c) => bytes.extend(control_frame(c, &mut expect, &mut pings)),
            Item::Data {
                text,
                payload,
                cuts,
                controls,
            } => {
                let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(payload.len())).collect();
                cuts.sort_unstable();
                cuts.push(payload.len());
                let mut prev = 0;
                let last = cuts.len() - 1;
                for (i, &c) in cuts.iter().enumerate() {
                    let op = match (i, text) {
                        (0, true) => TEXT,
                        (0, false) => BIN,
                        _ => CONT,
                    };
                    bytes.extend(
                        ServerFrame::new(op, &payload[prev..c])
                            .fin(i == last)
                            .bytes(),
                    );
                    prev = c;
                    if i < last {
                        if let Some(Some(ctl)) = controls.get(i) {
                            bytes.extend(control_frame(ctl, &mut expect, &mut pings));
                        }
                    }
                }
                expect.push(if *text {
                    Msg::Text(String::from_utf8(payload.clone()).unwrap())
                } else {
                    Msg::Binary(payload.clone())
                });
            }
        }
    }
    match close {
        Some(code) => bytes.extend(close_frame(code, reason.as_bytes())),
        None => bytes.extend(frame(CLOSE, b"")),
    }
    let reason = if close.is_some() { reason } else { "" };
    expect.push(Msg::Closed(close, reason.to_owned()));
    (bytes, expect, pings)
}

/// Opens the handshake on a fresh connection and returns it with the whole
/// server stream: the `101` response followed by `frames`.
fn stream(seed: u64, config: Config, frames: &[u8]) -> (Conn, Vec<u8>) {
    let mut conn = connecting(seed, config, 16 << 10);
    let (_, key) = take_request(&mut conn);
    let bytes = [response_for(&key, ""), frames.to_vec()].concat();
    (conn, bytes)
}

proptest! {
    #![proptest_config(config())]

    /// (a) Any split of a valid stream gives what feeding it whole gives, and
    /// what the server sent; every ping is answered and the close echoed.
    #[test]
    fn any_split_gives_the_same_messages(
        items in vec(item(), 0..8),
        close in close_code(),
        reason in vec(any::<char>(), 0..30),
        cuts in vec(any::<Index>(), 0..12),
        bytewise in proptest::bool::weighted(0.1),
        seed in any::<u64>(),
    ) {
        let reason: String = reason.into_iter().collect();
        let (frames, expect, pings) = build(&items, close, &reason);

        let (mut whole, bytes) = stream(seed, Config::default(), &frames);
        let (got, err) = feed_assembled(&mut whole, &bytes, &[], 1 << 10);
        prop_assert_eq!(err, None);
        prop_assert_eq!(&got, &expect);

        let (mut split, bytes) = stream(seed, Config::default(), &frames);
        let cuts: Vec<usize> = if bytewise {
            (0..bytes.len()).collect()
        } else {
            cuts.iter().map(|i| i.index(bytes.len() + 1)).collect()
        };
        let (got, err) = feed_assembled(&mut split, &bytes, &cuts, 1 << 10);
        prop_assert_eq!(err, None);
        prop_assert_eq!(&got, &expect);

        for conn in [&mut whole, &mut split] {
            prop_assert_eq!(conn.state(), State::Closed);
            let wire = drain(conn);
            let (echo, pongs) = wire.split_last().unwrap();
            prop_assert_eq!(echo.opcode, OpCode::Close);
            prop_assert_eq!(echo.close_code(), close);
            prop_assert!(pongs.iter().all(|f| f.opcode == OpCode::Pong && f.fin));
            let answered: Vec<Vec<u8>> = pongs.iter().map(|f| f.payload.clone()).collect();
            prop_assert_eq!(&answered, &pings);
            prop_assert!(conn.is_finished());
        }
    }

    /// (b) `encode_masked` then `FrameHeader::parse` + `apply_mask` gives back
    /// the opcode, FIN and payload, for every data and control opcode.
    #[test]
    fn encode_then_decode_is_identity(
        opcode in proptest::sample::select(vec![
            OpCode::Continuation, OpCode::Text, OpCode::Binary,
            OpCode::Close, OpCode::Ping, OpCode::Pong,
        ]),
        fin in any::<bool>(),
        len in prop_oneof![4 => 0usize..300, 1 => 65_530usize..65_540],
        fill_seed in any::<u64>(),
        key in any::<[u8; 4]>(),
    ) {
        let len = if opcode.is_control() { len % 126 } else { len };
        let fin = fin || opcode.is_control();
        let mut rng = TestRng::new(fill_seed);
        let mut payload = vec![0u8; len];
        ws_proto::Random::fill(&mut rng, &mut payload).unwrap();

        let total = header_len(len as u64, true) + len;
        let mut out = vec![0u8; total + 3];
        let n = encode_masked(&mut out, opcode, fin, &payload, key);
        prop_assert_eq!(n, Some(total));
        prop_assert_eq!(encode_masked(&mut out[..total - 1], opcode, fin, &payload, key), None);
        let out = &out[..total];

        let (h, hl) = FrameHeader::parse(out).unwrap().unwrap();
        prop_assert_eq!(hl, header_len(len as u64, true));
        prop_assert_eq!((h.opcode, h.fin, h.rsv, h.mask, h.payload_len), (opcode, fin, 0, Some(key), len as u64));
        for short in 0..hl {
            prop_assert_eq!(FrameHeader::parse(&out[..short]).unwrap(), None);
        }
        let mut decoded = out[hl..].to_vec();
        apply_mask(&mut decoded, key, 0);
        prop_assert_eq!(&decoded, &payload);
        // Unmasking in two pieces at any offset gives the same bytes.
        let cut = (fill_seed as usize) % (len + 1);
        let mut pieces = out[hl..].to_vec();
        let (a, b) = pieces.split_at_mut(cut);
        apply_mask(a, key, 0);
        apply_mask(b, key, cut);
        prop_assert_eq!(&pieces, &payload);
    }

    /// (c) Garbage after the handshake: no panic; events or one typed error;
    /// the client's frames are whole; a close frame it sends carries the
    /// error's code (1002/1007/1009) or echoes the server's close. Split or
    /// whole, the completed messages and the error are the same.
    #[test]
    fn garbage_never_panics(
        pieces in vec(garbage_piece(), 0..24),
        cuts in vec(any::<Index>(), 0..8),
        seed in any::<u64>(),
    ) {
        let garbage: Vec<u8> = pieces.concat();
        let config = config_max(64);
        let (mut whole, bytes) = stream(seed, config, &garbage);
        let (whole_msgs, whole_err) = feed_assembled(&mut whole, &bytes, &[], 64);

        let (mut split, bytes) = stream(seed, config, &garbage);
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        let (split_msgs, split_err) = feed_assembled(&mut split, &bytes, &cuts, 64);
        prop_assert_eq!(&split_msgs, &whole_msgs);
        prop_assert_eq!(split_err, whole_err);

        for conn in [&mut whole, &mut split] {
            check_garbage_outcome(conn, &whole_msgs, whole_err)?;
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// (d) A handshake response with a few bytes overwritten (and a frame
    /// after it) ends the same way, event for event, whole or split, and a
    /// failed handshake sends nothing.
    #[test]
    fn corrupted_response_same_outcome_any_split(
        edits in vec((any::<Index>(), any::<u8>()), 0..3),
        max_header in 64usize..400,
        cuts in vec(any::<Index>(), 0..6),
        seed in any::<u64>(),
    ) {
        let config = Config { max_response_header: max_header, ..Config::default() };
        let run = |cuts: &[usize]| {
            let mut conn = connecting(seed, config, 4096);
            let (_, key) = take_request(&mut conn);
            let mut bytes = [response_for(&key, "X-Pad: padding\r\n"), frame(TEXT, b"hi")].concat();
            for (at, b) in &edits {
                let i = at.index(bytes.len());
                bytes[i] = *b;
            }
            let cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
            let (msgs, err) = feed_assembled(&mut conn, &bytes, &cuts, 64);
            (msgs, err, conn.state(), conn.transmit().to_vec())
        };
        let whole = run(&[]);
        let len = response_for(&[b'A'; 24], "X-Pad: padding\r\n").len() + 4;
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(len + 1)).collect();
        let split = run(&cuts);
        prop_assert_eq!(&split, &whole);
        let bytewise = run(&(0..len).collect::<Vec<_>>());
        prop_assert_eq!(&bytewise, &whole);
        let (msgs, err, state, wire) = whole;
        match err {
            Some(Error::Handshake(_)) => {
                prop_assert!(msgs.is_empty());
                prop_assert_eq!(state, State::Closed);
                prop_assert!(wire.is_empty());
            }
            Some(Error::Protocol(_)) => prop_assert_eq!(msgs.first(), Some(&Msg::Connected)),
            Some(other) => prop_assert!(false, "unexpected error {:?}", other),
            None => prop_assert!(msgs.is_empty() || msgs.first() == Some(&Msg::Connected)),
        }
    }
}

fn garbage_piece() -> impl Strategy<Value = Vec<u8>> {
    let first = prop_oneof![
        any::<u8>(),
        proptest::sample::select(vec![
            0x81u8, 0x82, 0x01, 0x02, 0x00, 0x80, 0x88, 0x89, 0x8a, 0xc1, 0x83
        ]),
    ];
    let second = prop_oneof![0u8..24, Just(126u8), Just(127u8), any::<u8>()];
    let payload = prop_oneof![
        vec(any::<u8>(), 0..24),
        vec(0x20u8..0x7f, 0..24),
        (1000u16..1012).prop_map(|c| c.to_be_bytes().to_vec()),
        Just("€κ".as_bytes().to_vec()),
    ];
    prop_oneof![
        vec(any::<u8>(), 0..16),
        (first, second, payload).prop_map(|(a, b, p)| [vec![a, b], p].concat()),
    ]
}

fn check_garbage_outcome(
    conn: &mut Conn,
    msgs: &[Msg],
    err: Option<Error>,
) -> Result<(), TestCaseError> {
    let wire = drain(conn);
    prop_assert_eq!(msgs.first(), Some(&Msg::Connected));
    let closed_by_server = match msgs.last() {
        Some(Msg::Closed(code, _)) => Some(*code),
        _ => None,
    };
    let pings = msgs.iter().filter(|m| matches!(m, Msg::Ping(_))).count();
    let pongs = wire.iter().filter(|f| f.opcode == OpCode::Pong).count();
    prop_assert_eq!(pings, pongs, "every ping answered");
    let closes: Vec<_> = wire.iter().filter(|f| f.opcode == OpCode::Close).collect();
    match (err, closed_by_server) {
        (Some(Error::Protocol(p)), None) => {
            prop_assert!(matches!(p.close_code(), 1002 | 1007 | 1009));
            prop_assert_eq!(closes.len(), 1);
            prop_assert_eq!(closes[0].close_code(), Some(p.close_code()));
            prop_assert_eq!(wire.last().map(|f| f.opcode), Some(OpCode::Close));
            prop_assert_eq!(conn.state(), State::Closed);
        }
        (Some(other), _) => prop_assert!(false, "unexpected error {:?}", other),
        (None, Some(code)) => {
            prop_assert_eq!(closes.len(), 1);
            prop_assert_eq!(closes[0].close_code(), code);
            prop_assert_eq!(conn.state(), State::Closed);
        }
        (None, None) => {
            prop_assert!(closes.is_empty());
            prop_assert_eq!(conn.state(), State::Open);
        }
    }
    prop_assert!(wire
        .iter()
        .all(|f| matches!(f.opcode, OpCode::Pong | OpCode::Close)));
    Ok(())
}
