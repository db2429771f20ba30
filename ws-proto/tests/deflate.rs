//! permessage-deflate (RFC 7692) through a real handshake: the offer, every
//! answer the client must refuse, RSV1 rules, the section 7.2.3 examples,
//! inflating across frames and input pieces, the inflated-size limit (a
//! decompression bomb), and compressed sends.

mod common;

use common::*;
use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use ws_proto::deflate::DeflateConfig;
use ws_proto::frame::OpCode;
use ws_proto::{
    Agreed, Config, DataKind, DeflateError, Error, Event, HandshakeError, Instant, ProtocolError,
    State,
};

fn config(offer: DeflateConfig, max: u64) -> Config {
    Config {
        max_message_size: max,
        deflate: Some(offer),
        ..Config::default()
    }
}

/// A connection that offered `offer` and got `answer` (the extension header
/// value, `None` for no header).
fn negotiate(offer: DeflateConfig, max: u64, answer: Option<&str>) -> (Conn, Result<(), Error>) {
    let mut conn = connecting(3, config(offer, max), 1 << 20);
    let (request, key) = take_request(&mut conn);
    let line = request
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
        .map(str::to_owned);
    let mut expected = String::from("permessage-deflate");
    if offer.server_no_context_takeover {
        expected.push_str("; server_no_context_takeover");
    }
    if offer.client_no_context_takeover {
        expected.push_str("; client_no_context_takeover");
    }
    if let Some(b) = offer.server_max_window_bits {
        expected.push_str(&format!("; server_max_window_bits={b}"));
    }
    expected.push_str("; client_max_window_bits");
    assert_eq!(line.as_deref(), Some(expected.as_str()));
    let extra = answer.map_or(String::new(), |a| {
        format!("Sec-WebSocket-Extensions: {a}\r\n")
    });
    let resp = response_for(&key, &extra);
    let r = conn.recv(Instant::ZERO, &resp).map(|r| {
        assert_eq!(r.event(), Some(Event::Connected { protocol: None }));
    });
    (conn, r)
}

fn open_deflate(answer: &str, max: u64) -> Conn {
    let (conn, r) = negotiate(DeflateConfig::standard(), max, Some(answer));
    r.unwrap();
    assert_eq!(conn.state(), State::Open);
    conn
}

/// What a caller joining inflated pieces sees.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping,
    Closed,
}

/// Feeds `pieces` in turn (keeping unconsumed input), joining every kind of
/// data event into messages. Returns them, the error, and the largest piece
/// of inflated output seen.
fn run(conn: &mut Conn, pieces: &[&[u8]]) -> (Vec<Got>, Option<Error>, usize) {
    let mut pending = Vec::new();
    let mut got = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut largest = 0;
    for piece in pieces {
        pending.extend_from_slice(piece);
        for _ in 0..100_000 {
            let r = match conn.recv(Instant::ZERO, &pending) {
                Ok(r) => r,
                Err(e) => return (got, Some(e), largest),
            };
            let consumed = r.consumed;
            let Some(ev) = r.event() else {
                pending.drain(..consumed);
                break;
            };
            let finish = |kind: DataKind, data: Vec<u8>| match kind {
                DataKind::Text => Got::Text(String::from_utf8(data).unwrap()),
                DataKind::Binary => Got::Binary(data),
            };
            match ev {
                Event::Text(t) => got.push(Got::Text(t.to_owned())),
                Event::Binary(b) => got.push(Got::Binary(b.to_vec())),
                Event::Fragment { kind, data, fin } => {
                    partial.extend_from_slice(data);
                    if fin {
                        got.push(finish(kind, std::mem::take(&mut partial)));
                    }
                }
                Event::Inflated { kind, fin } => {
                    largest = largest.max(conn.inflated().len());
                    partial.extend_from_slice(conn.inflated());
                    if fin {
                        got.push(finish(kind, std::mem::take(&mut partial)));
                    }
                }
                Event::Ping(_) => got.push(Got::Ping),
                Event::Closed(_) => got.push(Got::Closed),
                Event::Connected { .. } | Event::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
            pending.drain(..consumed);
        }
    }
    (got, None, largest)
}

fn text(s: &str) -> Got {
    Got::Text(s.to_owned())
}

// ----- negotiation ---------------------------------------------------------

#[test]
fn agreed_parameters() {
    let conn = open_deflate("permessage-deflate", 1 << 20);
    assert_eq!(
        conn.deflate(),
        Some(Agreed {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        })
    );
    let conn = open_deflate(
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
        1 << 20,
    );
    let a = conn.deflate().unwrap();
    assert!(a.server_no_context_takeover && a.client_max_window_bits == 9);
    // The server may decline: no header, no compression, RSV1 a violation.
    let (mut conn, r) = negotiate(DeflateConfig::standard(), 1 << 20, None);
    r.unwrap();
    assert_eq!(conn.deflate(), None);
    let (_, err, _) = run(&mut conn, &[b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"]);
    assert_eq!(err, Some(Error::Protocol(ProtocolError::ReservedBits)));
    // Without an offer nothing is written into the request.
    let mut conn = connecting(1, Config::default(), 4096);
    let (request, _) = take_request(&mut conn);
    assert!(!request.contains("Sec-WebSocket-Extensions"));
}

#[test]
fn every_bad_negotiation_fails_the_handshake() {
    use DeflateError::*;
    let asked = DeflateConfig {
        server_max_window_bits: Some(10),
        server_no_context_takeover: true,
        ..DeflateConfig::standard()
    };
    let cases: &[(DeflateConfig, &str, HandshakeError)] = &[
        (
            DeflateConfig::standard(),
            "x-webkit-deflate-frame",
            HandshakeError::Extension,
        ),
        (
            DeflateConfig::standard(),
            "permessage-deflate, permessage-deflate",
            HandshakeError::Deflate(Repeated),
        ),
        (
            DeflateConfig::standard(),
            "permessage-deflate; foo",
            HandshakeError::Deflate(UnknownParameter),
        ),
        (
            DeflateConfig::standard(),
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            HandshakeError::Deflate(DuplicateParameter),
        ),
        (
            DeflateConfig::standard(),
            "permessage-deflate; client_max_window_bits=8; client_max_window_bits=9",
            HandshakeError::Deflate(DuplicateParameter),
        ),
        (
            DeflateConfig::standard(),
            "permessage-deflate; client_no_context_takeover=yes",
            HandshakeError::Deflate(BadValue),
        ),
        (
            DeflateConfig::standard(),
            "permessage-deflate; client_max_window_bits",
            HandshakeError::Deflate(BadValue),
        ),
        (
            DeflateConfig::standard(),
            "permessage-deflate; server_max_window_bits=16",
            HandshakeError::Deflate(BadValue),
        ),
        (
            DeflateConfig::standard(),
            "permessage-deflate; server_max_window_bits=7",
            HandshakeError::Deflate(BadValue),
        ),
        (
            asked,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
            HandshakeError::Deflate(NotAllowed),
        ),
        (
            asked,
            "permessage-deflate; server_max_window_bits=10",
            HandshakeError::Deflate(Missing),
        ),
        (
            asked,
            "permessage-deflate; server_no_context_takeover",
            HandshakeError::Deflate(Missing),
        ),
    ];
    for (offer, answer, err) in cases {
        let (conn, r) = negotiate(*offer, 1 << 20, Some(answer));
        assert_eq!(r, Err(Error::Handshake(*err)), "{answer}");
        assert_eq!(conn.state(), State::Closed);
        assert!(conn.transmit().is_empty());
    }
    // And any extension at all without an offer (as before).
    let mut conn = connecting(1, Config::default(), 4096);
    let (_, key) = take_request(&mut conn);
    let resp = response_for(&key, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    assert_eq!(
        conn.recv(Instant::ZERO, &resp).err(),
        Some(Error::Handshake(HandshakeError::Extension))
    );
}

// ----- RFC 7692 section 7.2.3 ----------------------------------------------

const HELLO: &[u8] = b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00";

#[test]
fn rfc7692_7_2_3_1_hello_whole_and_fragmented() {
    let mut conn = open_deflate("permessage-deflate", 1 << 20);
    let (got, err, _) = run(&mut conn, &[HELLO]);
    assert_eq!((got, err), (vec![text("Hello")], None));
    // Two frames: RSV1 on the first only.
    let frames: &[u8] = b"\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00";
    let (got, err, _) = run(&mut conn, &[frames]);
    assert_eq!((got, err), (vec![text("Hello")], None));
}

#[test]
fn rfc7692_7_2_3_2_two_messages_sharing_a_window() {
    // With context takeover the second "Hello" refers back to the first.
    let mut conn = open_deflate("permessage-deflate", 1 << 20);
    let second: &[u8] = b"\xc1\x05\xf2\x00\x11\x00\x00";
    let (got, err, _) = run(&mut conn, &[HELLO, second]);
    assert_eq!((got, err), (vec![text("Hello"), text("Hello")], None));
    // Without it (server_no_context_takeover) each message stands alone.
    let mut conn = open_deflate("permessage-deflate; server_no_context_takeover", 1 << 20);
    let (got, err, _) = run(&mut conn, &[HELLO, HELLO]);
    assert_eq!((got, err), (vec![text("Hello"), text("Hello")], None));
    // ...and a back-reference to the earlier message is not honoured then.
    let mut conn = open_deflate("permessage-deflate; server_no_context_takeover", 1 << 20);
    let (got, _, _) = run(&mut conn, &[HELLO, second]);
    assert_ne!(got.get(1), Some(&text("Hello")));
}

#[test]
fn rfc7692_7_2_3_3_to_6_other_blocks() {
    let mut conn = open_deflate("permessage-deflate", 1 << 20);
    // 7.2.3.3: a block with no compression.
    let stored: &[u8] = b"\xc1\x0b\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00";
    // 7.2.3.4: a block with BFINAL set.
    let bfinal: &[u8] = b"\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00";
    // 7.2.3.5: two DEFLATE blocks in one message.
    let two: &[u8] = b"\xc1\x0d\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00";
    // 7.2.3.6: an empty message... compressed as one byte, and a binary one.
    let empty: &[u8] = b"\xc1\x01\x00";
    let binary: &[u8] = b"\xc2\x07\xf2\x48\xcd\xc9\xc9\x07\x00";
    let (got, err, _) = run(&mut conn, &[stored, bfinal, two, empty, binary, HELLO]);
    assert_eq!(err, None);
    assert_eq!(
        got,
        vec![
            text("Hello"),
            text("Hello"),
            text("Hello"),
            text(""),
            Got::Binary(b"Hello".to_vec()),
            text("Hello")
        ]
    );
}

// ----- pieces ----------------------------------------------------------------

/// A server's compressed message: raw DEFLATE, sync-flushed, tail removed.
fn server_compress(data: &[u8]) -> Vec<u8> {
    use miniz_oxide::deflate::core::{
        compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush,
    };
    let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0));
    let mut out = Vec::new();
    compress_to_output(&mut c, data, TDEFLFlush::Sync, |chunk| {
        out.extend_from_slice(chunk);
        true
    });
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

/// Server frames carrying `payload` in `frag`-byte frames, RSV1 on the first.
fn server_frames(op: u8, payload: &[u8], frag: usize) -> Vec<u8> {
    let chunks: Vec<&[u8]> = payload.chunks(frag.max(1)).collect();
    let chunks = if chunks.is_empty() {
        vec![&[][..]]
    } else {
        chunks
    };
    let mut out = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let mut f = ServerFrame::new(if i == 0 { op } else { CONT }, c);
        f.fin = i + 1 == chunks.len();
        f.rsv = if i == 0 { 4 } else { 0 };
        out.extend(f.bytes());
    }
    out
}

fn json_stream(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"name\":\"sensor-{}\",\"value\":{}.{}}}\n",
                i % 7,
                i * 31 % 1000,
                i % 10
            )
        })
        .collect()
}

#[test]
fn inflates_across_frames_and_input_pieces() {
    let msg = json_stream(3000);
    let compressed = server_compress(msg.as_bytes());
    assert!(compressed.len() * 4 < msg.len());
    for frag in [1, 7, 100, 4096, usize::MAX] {
        let stream = server_frames(TEXT, &compressed, frag);
        for piece in [1, 3, 64, 1000, stream.len()] {
            let mut conn = open_deflate("permessage-deflate", 1 << 20);
            let pieces: Vec<&[u8]> = stream.chunks(piece).collect();
            let (got, err, largest) = run(&mut conn, &pieces);
            assert_eq!(err, None, "frag {frag} piece {piece}");
            assert_eq!(
                got,
                vec![Got::Text(msg.clone())],
                "frag {frag} piece {piece}"
            );
            assert!(largest <= 1 << 15);
        }
    }
}

#[test]
fn control_frames_between_compressed_fragments() {
    let mut conn = open_deflate("permessage-deflate", 1 << 20);
    let mut s = b"\x41\x03\xf2\x48\xcd".to_vec();
    s.extend(frame(PING, b"p"));
    s.extend_from_slice(b"\x80\x04\xc9\xc9\x07\x00");
    let (got, err, _) = run(&mut conn, &[&s]);
    assert_eq!((got, err), (vec![Got::Ping, text("Hello")], None));
}

// ----- violations ------------------------------------------------------------

#[test]
fn rsv1_only_on_the_first_frame_of_a_data_message() {
    let cases: &[(&[u8], ProtocolError)] = &[
        // RSV1 on a continuation.
        (
            b"\x41\x03\xf2\x48\xcd\xc0\x04\xc9\xc9\x07\x00",
            ProtocolError::ReservedBits,
        ),
        // RSV1 on a ping, a pong, a close.
        (b"\xc9\x00", ProtocolError::ReservedBits),
        (b"\xca\x00", ProtocolError::ReservedBits),
        (b"\xc8\x00", ProtocolError::ReservedBits),
        // RSV2 and RSV3 stay reserved.
        (b"\xa1\x00", ProtocolError::ReservedBits),
        (b"\x91\x00", ProtocolError::ReservedBits),
        (b"\xe1\x00", ProtocolError::ReservedBits),
        // Not DEFLATE (BTYPE=11).
        (b"\xc1\x02\xff\xff", ProtocolError::InvalidCompressedData),
        // Inflates to bytes that are not UTF-8 (a stored block of 0xff).
        (
            b"\xc1\x06\x00\x01\x00\xfe\xff\xff",
            ProtocolError::InvalidUtf8,
        ),
    ];
    for (bytes, e) in cases {
        let mut conn = open_deflate("permessage-deflate", 1 << 20);
        let (_, err, _) = run(&mut conn, &[bytes]);
        assert_eq!(err, Some(Error::Protocol(*e)), "{bytes:02x?}");
        expect_close_on_wire(&mut conn, Some(e.close_code()));
    }
}

#[test]
fn decompression_bomb_fails_with_1009_in_bounded_memory() {
    // 16 MiB of zeros compress to about 16 KiB; the limit is 64 KiB.
    let zeros = vec![0u8; 16 << 20];
    let compressed = server_compress(&zeros);
    assert!(compressed.len() < 32 << 10, "{}", compressed.len());
    let max = 64 << 10;
    let mut conn = open_deflate("permessage-deflate", max);
    let stream = server_frames(BIN, &compressed, usize::MAX);
    let mut pending = stream.as_slice();
    let mut handed_out = 0usize;
    let err = loop {
        match conn.recv(Instant::ZERO, pending) {
            Ok(r) => {
                if let Some(Event::Inflated { .. }) = r.event() {
                    handed_out += conn.inflated().len();
                } else {
                    panic!("{:?}", r.progress);
                }
                pending = &pending[r.consumed..];
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err, Error::Protocol(ProtocolError::MessageTooBig));
    expect_close_on_wire(&mut conn, Some(1009));
    // Never more than the limit reached the caller...
    assert!(handed_out <= max as usize, "{handed_out}");
    // ...and it stopped within one window of it: most input is unread.
    assert!(stream.len() - pending.len() < compressed.len() / 4);
    // A message exactly at the limit passes.
    let mut conn = open_deflate("permessage-deflate", max);
    let exact = server_compress(&zeros[..max as usize]);
    let (got, err, _) = run(&mut conn, &[&server_frames(BIN, &exact, 1000)]);
    assert_eq!(err, None);
    assert_eq!(got, vec![Got::Binary(vec![0; max as usize])]);
}

// ----- outbound ----------------------------------------------------------------

/// Inflates one client message payload with `ctx` (context kept across calls).
fn client_inflate(ctx: &mut (DecompressorOxide, Vec<u8>, usize), payload: &[u8]) -> Vec<u8> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let (core, ring, pos) = ctx;
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        if *pos == ring.len() {
            *pos = 0;
        }
        let (status, used, written) = decompress(
            core,
            &input[at..],
            ring,
            *pos,
            inflate_flags::TINFL_FLAG_HAS_MORE_INPUT,
        );
        out.extend_from_slice(&ring[*pos..*pos + written]);
        *pos += written;
        at += used;
        if at == input.len() && status == miniz_oxide::inflate::TINFLStatus::NeedsMoreInput {
            return out;
        }
        assert!(used + written > 0, "{status:?}");
    }
}

#[test]
fn sends_compressed_above_the_threshold_with_context_takeover() {
    let mut conn = open_deflate("permessage-deflate", 1 << 20);
    let msg = json_stream(50);
    conn.send_text("small").unwrap();
    conn.send_text(&msg).unwrap();
    conn.send_text(&msg).unwrap();
    conn.ping(b"x").unwrap();
    let bytes = conn.transmit().to_vec();
    conn.advance_transmit(bytes.len());
    // Parse by hand: the common parser refuses RSV bits.
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (h, hl) = ws_proto::frame::FrameHeader::parse(&bytes[at..])
            .unwrap()
            .unwrap();
        let len = h.payload_len as usize;
        let mut p = bytes[at + hl..at + hl + len].to_vec();
        ws_proto::mask::apply_mask(&mut p, h.mask.unwrap(), 0);
        frames.push((h.rsv, h.opcode, p));
        at += hl + len;
    }
    assert_eq!(frames.len(), 4);
    assert_eq!(frames[0], (0, OpCode::Text, b"small".to_vec()));
    assert_eq!(frames[3], (0, OpCode::Ping, b"x".to_vec()));
    let mut ctx = (DecompressorOxide::new(), vec![0u8; 1 << 15], 0);
    for f in &frames[1..3] {
        assert_eq!(f.0, 4, "RSV1");
        assert_eq!(client_inflate(&mut ctx, &f.2), msg.as_bytes());
    }
    // The second copy refers back to the first.
    assert!(
        frames[2].2.len() * 10 < frames[1].2.len(),
        "{} {}",
        frames[2].2.len(),
        frames[1].2.len()
    );
}

#[test]
fn no_context_takeover_and_small_client_window() {
    // client_no_context_takeover: each message compressed alone.
    let mut conn = open_deflate("permessage-deflate; client_no_context_takeover", 1 << 20);
    let msg = json_stream(20);
    conn.send_text(&msg).unwrap();
    conn.send_text(&msg).unwrap();
    let frames = drain_raw(&mut conn);
    assert_eq!(frames[0], frames[1]);
    for f in &frames {
        assert_eq!(f.0, 4);
        let mut ctx = (DecompressorOxide::new(), vec![0u8; 1 << 15], 0);
        assert_eq!(client_inflate(&mut ctx, &f.2), msg.as_bytes());
    }
    // A 512-byte client window: only messages alone and within it are
    // compressed (miniz_oxide's window is 32 KiB).
    let mut conn = open_deflate(
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=9",
        1 << 20,
    );
    conn.send_text(&msg[..400]).unwrap();
    conn.send_text(&msg).unwrap();
    let frames = drain_raw(&mut conn);
    assert_eq!((frames[0].0, frames[1].0), (4, 0));
    let mut conn = open_deflate("permessage-deflate; client_max_window_bits=9", 1 << 20);
    conn.send_text(&msg[..400]).unwrap();
    assert_eq!(drain_raw(&mut conn)[0].0, 0);
}

fn drain_raw(conn: &mut Conn) -> Vec<(u8, OpCode, Vec<u8>)> {
    let bytes = conn.transmit().to_vec();
    conn.advance_transmit(bytes.len());
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (h, hl) = ws_proto::frame::FrameHeader::parse(&bytes[at..])
            .unwrap()
            .unwrap();
        let len = h.payload_len as usize;
        let mut p = bytes[at + hl..at + hl + len].to_vec();
        ws_proto::mask::apply_mask(&mut p, h.mask.unwrap(), 0);
        frames.push((h.rsv, h.opcode, p));
        at += hl + len;
    }
    frames
}

#[test]
fn backpressure_leaves_the_compressor_in_step() {
    // A queue that takes one compressed message but not two.
    let mut conn = connecting(5, config(DeflateConfig::standard(), 1 << 20), 2048);
    let (_, key) = take_request(&mut conn);
    let resp = response_for(&key, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    conn.recv(Instant::ZERO, &resp).unwrap();
    let msg = json_stream(25);
    assert!(msg.len() > 700 && msg.len() < 1500, "{}", msg.len());
    conn.send_text(&msg).unwrap();
    let mut sent = 1;
    while sent < 1000 && conn.send_text(&msg).is_ok() {
        sent += 1;
    }
    assert_eq!(conn.send_text(&msg), Err(ws_proto::SendError::Backpressure));
    let mut frames = drain_raw(&mut conn);
    assert_eq!(frames.len(), sent);
    // After the refusal, the next message still inflates in the same context.
    conn.send_text(&msg).unwrap();
    frames.extend(drain_raw(&mut conn));
    let mut ctx = (DecompressorOxide::new(), vec![0u8; 1 << 15], 0);
    let mut plain = 0;
    for f in &frames {
        if f.0 == 0 {
            // Room for the message but not for its worst-case compressed size.
            plain += 1;
            assert_eq!(f.2, msg.as_bytes());
        } else {
            assert_eq!(client_inflate(&mut ctx, &f.2), msg.as_bytes());
        }
    }
    assert!(plain < 2 && frames.last().unwrap().0 == 4);
}

#[test]
fn device_profile_asks_for_a_small_window_and_sends_plain() {
    let (mut conn, r) = negotiate(
        DeflateConfig::device(),
        1 << 20,
        Some("permessage-deflate; server_max_window_bits=9"),
    );
    r.unwrap();
    assert_eq!(conn.deflate().unwrap().server_max_window_bits, 9);
    let msg = json_stream(100);
    conn.send_text(&msg).unwrap();
    assert_eq!(drain_raw(&mut conn)[0].0, 0);
    // A 9-bit server stream inflates in the 512-byte ring.
    let (got, err, largest) = run(
        &mut conn,
        &[&server_frames(TEXT, &small_window(msg.as_bytes()), 300)],
    );
    assert_eq!((got, err), (vec![Got::Text(msg)], None));
    assert!(largest <= 512);
}

/// Raw DEFLATE with back-references of at most 256 bytes: stored runs and
/// repeats built by hand would be long; instead, compress 256-byte chunks
/// each on its own, as stored or fixed blocks in one stream.
fn small_window(data: &[u8]) -> Vec<u8> {
    use miniz_oxide::deflate::core::{
        compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush,
    };
    let mut out = Vec::new();
    for chunk in data.chunks(256) {
        let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0));
        compress_to_output(&mut c, chunk, TDEFLFlush::Sync, |b| {
            out.extend_from_slice(b);
            true
        });
    }
    out.truncate(out.len() - 4);
    out
}

#[test]
fn last_output_of_a_message_is_handed_out() {
    // Found by the inflate fuzz target: this stream's last byte comes out
    // with the tail, completing a code point.
    let mut conn = open_deflate("permessage-deflate", 4096);
    let (got, err, _) = run(&mut conn, &[&[0xc2, 0x04, 0xaa, 0xaa, 0xbd, 0xbd]]);
    assert_eq!(err, None);
    let [Got::Binary(b)] = got.as_slice() else {
        panic!("{got:?}")
    };
    assert_eq!(b.len(), 4, "{b:02x?}");
    let mut conn = open_deflate("permessage-deflate", 4096);
    let (got, err, _) = run(&mut conn, &[&[0xc1, 0x04, 0xaa, 0xaa, 0xbd, 0xbd]]);
    assert_eq!(err, None);
    assert_eq!(got, vec![Got::Text(String::from_utf8(b.clone()).unwrap())]);
}

// ----- through a Session ---------------------------------------------------------

/// A session over `rx_cap` bytes of receive buffer whose server agreed to
/// permessage-deflate, and the bytes it would read.
type TestSession = ws_proto::Session<TestRng, Vec<u8>, Vec<u8>, Vec<u8>>;

fn session(streaming: bool, max: u64) -> (TestSession, Vec<u8>) {
    let conn = connecting(9, config(DeflateConfig::standard(), max), 1 << 16);
    let request = conn.transmit().to_vec();
    let at = request
        .windows(19)
        .position(|w| w == b"Sec-WebSocket-Key: ")
        .unwrap()
        + 19;
    let resp = response_for(
        &request[at..at + 24],
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    );
    let asm = vec![0u8; max as usize];
    let s = if streaming {
        ws_proto::Session::streaming(conn, vec![0; 512], Vec::new()).unwrap()
    } else {
        ws_proto::Session::new(conn, vec![0; 512], asm).unwrap()
    };
    (s, resp)
}

/// Reads `stream` into the session `piece` bytes at a time; returns whole
/// messages (joining streamed fragments) and how the session ended.
fn run_session(s: &mut TestSession, stream: &[u8], piece: usize) -> (Vec<Got>, Option<String>) {
    use ws_proto::{Message, SessionEvent};
    let mut got = Vec::new();
    let mut partial = Vec::new();
    let mut at = 0;
    let advance = s.transmit().len();
    s.advance_transmit(advance);
    for _ in 0..1_000_000 {
        let buf = s.read_buf();
        let n = buf.len().min(piece).min(stream.len() - at);
        buf[..n].copy_from_slice(&stream[at..at + n]);
        s.commit_read(n);
        at += n;
        if at == stream.len() {
            s.handle_eof();
        }
        while let Some(ev) = s.poll_event(Instant::ZERO) {
            match ev {
                SessionEvent::Message(Message::Text(t)) => got.push(Got::Text(t.to_owned())),
                SessionEvent::Message(Message::Binary(b)) => got.push(Got::Binary(b.to_vec())),
                SessionEvent::Fragment { kind, data, fin } => {
                    partial.extend_from_slice(data);
                    if fin {
                        let data = std::mem::take(&mut partial);
                        got.push(match kind {
                            DataKind::Text => Got::Text(String::from_utf8(data).unwrap()),
                            DataKind::Binary => Got::Binary(data),
                        });
                    }
                }
                SessionEvent::Closed(d) => return (got, Some(d.to_string())),
                _ => {}
            }
        }
    }
    panic!("the session never ended");
}

#[test]
fn session_joins_and_streams_inflated_messages() {
    let big = json_stream(2000);
    let mut stream = Vec::new();
    stream.extend(server_frames(TEXT, &server_compress(big.as_bytes()), 1000));
    stream.extend_from_slice(HELLO);
    stream.extend(frame(BIN, b"plain"));
    stream.extend(close_frame(1000, b""));
    let want = vec![
        Got::Text(big.clone()),
        text("Hello"),
        Got::Binary(b"plain".to_vec()),
    ];
    for streaming in [false, true] {
        for piece in [1, 100, 4096] {
            let (mut s, resp) = session(streaming, 1 << 20);
            let mut all = resp.clone();
            all.extend_from_slice(&stream);
            let (got, end) = run_session(&mut s, &all, piece);
            assert_eq!(got, want, "streaming {streaming} piece {piece}");
            assert!(end.unwrap().contains("close handshake"));
        }
    }
    // The inflated size is what the assembler's limit is checked against.
    let (mut s, resp) = session(false, 1000);
    let mut all = resp;
    all.extend(server_frames(TEXT, &server_compress(big.as_bytes()), 1000));
    let (got, end) = run_session(&mut s, &all, 4096);
    assert!(got.is_empty());
    assert!(end.unwrap().contains("1009"));
}

#[test]
fn restart_starts_the_negotiation_over() {
    let mut conn = open_deflate("permessage-deflate; server_no_context_takeover", 1 << 20);
    assert!(conn.deflate().is_some());
    let url = ws_proto::Url::parse(URL).unwrap();
    let plain = Config::default();
    conn.restart(
        &url,
        &ws_proto::HandshakeOptions::default(),
        plain,
        Instant::ZERO,
    )
    .unwrap();
    assert_eq!(conn.deflate(), None);
    let (request, key) = take_request(&mut conn);
    assert!(!request.contains("Sec-WebSocket-Extensions"));
    // Nothing offered now: an answer with the extension is refused.
    let resp = response_for(&key, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    assert_eq!(
        conn.recv(Instant::ZERO, &resp).err(),
        Some(Error::Handshake(HandshakeError::Extension))
    );
    // And offered again: agreed afresh, and "Hello" inflates.
    let offer = config(DeflateConfig::standard(), 1 << 20);
    conn.restart(
        &url,
        &ws_proto::HandshakeOptions::default(),
        offer,
        Instant::ZERO,
    )
    .unwrap();
    let (request, key) = take_request(&mut conn);
    assert!(request.contains("Sec-WebSocket-Extensions: permessage-deflate"));
    let resp = response_for(&key, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    conn.recv(Instant::ZERO, &resp).unwrap();
    assert_eq!(
        conn.deflate().map(|a| a.server_no_context_takeover),
        Some(false)
    );
    let (got, err, _) = run(&mut conn, &[HELLO]);
    assert_eq!((got, err), (vec![text("Hello")], None));
}
