//! `inflate`: compressed messages (permessage-deflate) fed whole and fed in
//! pieces give the same messages, error and close frame, and no message, nor
//! the output handed out for one, passes `max_message_size`.
//!
//! Input layout: `[cfg, frag, k, size_0 .. size_{k-1}, data ..]`.
//! - `cfg & 3` picks `max_message_size`; `cfg & 4` agrees to
//!   `server_no_context_takeover`; `cfg & 8` makes `data` the compressed
//!   payloads as they are (any bytes: invalid DEFLATE, bombs), else `data` is
//!   the plain text of the messages, compressed here with a sync flush (so
//!   the expected messages are known); `cfg & 16` marks messages binary.
//! - `data` is split into messages at each 0xfe byte (at most 8).
//! - Each message goes out in frames of `frag + 1` payload bytes, RSV1 on
//!   the first; a ping sits between the first two frames when `cfg & 32`.
//! - `k % 17` piece sizes follow (`size + 1` bytes, used in a cycle);
//!   `k == 0` feeds one byte at a time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miniz_oxide::deflate::core::{
    compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush,
};
use ws_proto::{Config, DeflateConfig, Error, Event, Instant, ProtocolError, State};
use ws_proto_fuzz::{connecting, server_frame, Conn};

const MAX_SIZES: [u64; 4] = [0, 100, 4096, 70_000];

#[derive(Debug, PartialEq, Eq)]
enum Rec {
    Msg(bool, Vec<u8>),
    Ping,
}

/// Opens a connection whose server agreed to permessage-deflate.
fn open(max: u64, no_context: bool) -> Option<Conn> {
    let config = Config {
        max_message_size: max,
        deflate: Some(DeflateConfig::standard()),
        ..Config::default()
    };
    let (mut conn, req_len, response) = connecting(4096, config)?;
    conn.advance_transmit(req_len);
    let ext: &[u8] = if no_context {
        b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n"
    } else {
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    };
    let mut resp = response[..response.len() - 2].to_vec();
    resp.extend_from_slice(ext);
    let r = conn.recv(Instant::ZERO, &resp).ok()?;
    assert_eq!(r.consumed, resp.len());
    assert_eq!(conn.state(), State::Open);
    Some(conn)
}

/// Feeds `pieces`, keeping the unconsumed rest; records messages, the error,
/// and checks the size bound on every message as it is inflated.
fn run(conn: &mut Conn, pieces: &[&[u8]], max: u64) -> (Vec<Rec>, Option<Error>) {
    let mut pending: Vec<u8> = Vec::new();
    let mut recs = Vec::new();
    let mut partial = Vec::new();
    for piece in pieces {
        pending.extend_from_slice(piece);
        // Each event consumes input or hands out up to 32 KiB of a message no
        // larger than `max` (plus one ring past it before failing).
        for _ in 0..pending.len() + 64 {
            let r = match conn.recv(Instant::ZERO, &pending) {
                Ok(r) => r,
                Err(e) => return (recs, Some(e)),
            };
            let consumed = r.consumed;
            let Some(ev) = r.event() else {
                pending.drain(..consumed);
                break;
            };
            match ev {
                Event::Inflated { kind, fin } => {
                    partial.extend_from_slice(conn.inflated());
                    assert!(partial.len() as u64 <= max, "handed out past the limit");
                    if fin {
                        let text = kind == ws_proto::DataKind::Text;
                        if text {
                            assert!(std::str::from_utf8(&partial).is_ok());
                        }
                        recs.push(Rec::Msg(text, std::mem::take(&mut partial)));
                    }
                }
                Event::Ping(_) => recs.push(Rec::Ping),
                Event::Closed(_) => {}
                other => panic!("unexpected {other:?}"),
            }
            pending.drain(..consumed);
        }
    }
    (recs, None)
}

/// Raw DEFLATE of each message with a sync flush, tail removed; one
/// compressor across messages unless `no_context`.
fn compress(messages: &[&[u8]], no_context: bool) -> Vec<Vec<u8>> {
    let flags = create_comp_flags_from_zip_params(6, -15, 0);
    let mut c = CompressorOxide::new(flags);
    messages
        .iter()
        .map(|m| {
            if no_context {
                c.reset();
            }
            let mut out = Vec::new();
            compress_to_output(&mut c, m, TDEFLFlush::Sync, |b| {
                out.extend_from_slice(b);
                true
            });
            out.truncate(out.len().saturating_sub(4));
            out
        })
        .collect()
}

fuzz_target!(|input: &[u8]| {
    let [cfg, frag, k, rest @ ..] = input else {
        return;
    };
    let k = usize::from(*k % 17);
    if rest.len() < k {
        return;
    }
    let (sizes, data) = rest.split_at(k);
    let max = MAX_SIZES[usize::from(cfg & 3)];
    let no_context = cfg & 4 != 0;
    let raw = cfg & 8 != 0;
    let binary = cfg & 16 != 0;
    let messages: Vec<&[u8]> = data.split(|&b| b == 0xfe).take(8).collect();
    let payloads = if raw {
        messages.iter().map(|m| m.to_vec()).collect()
    } else {
        compress(&messages, no_context)
    };
    let frag = usize::from(*frag) + 1;
    let mut stream = Vec::new();
    for p in &payloads {
        let chunks: Vec<&[u8]> = if p.is_empty() {
            vec![&[]]
        } else {
            p.chunks(frag).collect()
        };
        for (i, c) in chunks.iter().enumerate() {
            let op = if i > 0 {
                0
            } else if binary {
                2
            } else {
                1
            };
            let mut f = server_frame(op, i + 1 == chunks.len(), c);
            if i == 0 {
                f[0] |= 0x40;
            }
            stream.extend(f);
            if i == 0 && chunks.len() > 1 && cfg & 32 != 0 {
                stream.extend(server_frame(9, true, b"p"));
            }
        }
    }

    let Some(mut whole) = open(max, no_context) else {
        return;
    };
    let (recs, err) = run(&mut whole, &[&stream], max);

    // Chopped into pieces.
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < stream.len() {
        let n = if sizes.is_empty() {
            1
        } else {
            usize::from(sizes[i % sizes.len()]) + 1
        };
        let end = (at + n).min(stream.len());
        pieces.push(&stream[at..end]);
        at = end;
        i += 1;
    }
    let Some(mut split) = open(max, no_context) else {
        return;
    };
    let (split_recs, split_err) = run(&mut split, &pieces, max);
    assert_eq!(recs, split_recs, "whole vs pieces: messages");
    assert_eq!(err, split_err, "whole vs pieces: error");
    assert_eq!(
        whole.transmit(),
        split.transmit(),
        "whole vs pieces: bytes on the wire"
    );

    // Known plain text: each message comes back as it was, until the first
    // one too big (1009) or not UTF-8 text (1007).
    if raw {
        return;
    }
    let mut got = recs.iter().filter_map(|r| match r {
        Rec::Msg(_, m) => Some(m.as_slice()),
        Rec::Ping => None,
    });
    for m in &messages {
        let fits = m.len() as u64 <= max;
        let text_ok = binary || std::str::from_utf8(m).is_ok();
        if fits && text_ok {
            assert_eq!(got.next(), Some(*m), "a message changed");
            continue;
        }
        let Some(Error::Protocol(p)) = err else {
            panic!("a bad message passed: {err:?}");
        };
        match (fits, text_ok) {
            (false, true) => assert_eq!(p, ProtocolError::MessageTooBig),
            (true, false) => assert_eq!(p, ProtocolError::InvalidUtf8),
            _ => assert!(matches!(
                p,
                ProtocolError::MessageTooBig | ProtocolError::InvalidUtf8
            )),
        }
        return;
    }
    assert_eq!(err, None);
});
