//! Decode server frames from a buffer holding many: 16-byte text messages
//! (UTF-8 validated, as a conforming client must) and 64 KiB binary
//! messages.
//!
//! Ours:
//! - `ws_proto_recv`: `Connection::recv` over the buffer (borrows from it:
//!   zero-copy);
//! - `ws_proto_session`: the `Session` with the std `Client`'s default
//!   storage (`ClientConfig::storage`: receive buffer 4 KiB growing to
//!   64 KiB, growable assembler), bytes copied into its receive buffer as a
//!   socket read would;
//! - `ws_proto_session_tuned`: the same with `rx_buffer` = 256 KiB.
//!
//! Peers read from an in-memory stream, which copies the bytes into their
//! buffers as a socket read would: tungstenite, fastwebsockets,
//! tokio-websockets (its client codec); embedded-websocket decodes slices,
//! so its row copies whole frames (up to 64 KiB a read) into a read buffer
//! and decodes from there (it does not validate UTF-8, so its row adds
//! `core::str::from_utf8`). Anchors:
//! `core::str::from_utf8` of each payload, a memcpy of each payload.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::Throughput;
use futures_util::StreamExt;
use ws_benches::{ascii_payload, binary_payload, open_connection, server_frames};
use ws_proto::{Event, Instant, Message, SessionEvent};
use ws_transport_std::ClientConfig;

/// Feeds `buf` through `session` as socket reads of whatever fits; returns
/// the number of whole messages.
fn through_session(session: &mut common::ClientSession, buf: &[u8]) -> usize {
    let mut pos = 0;
    let mut n = 0;
    while pos < buf.len() {
        let dst = session.read_buf();
        let k = dst.len().min(buf.len() - pos);
        dst[..k].copy_from_slice(&buf[pos..pos + k]);
        pos += k;
        session.commit_read(k);
        while let Some(ev) = session.poll_event(Instant::ZERO) {
            match ev {
                SessionEvent::Message(Message::Text(t)) => {
                    black_box(t);
                }
                SessionEvent::Message(Message::Binary(d)) => {
                    black_box(d);
                }
                e => panic!("unexpected {e:?}"),
            }
            n += 1;
        }
    }
    n
}

/// The tuned configuration: a receive buffer that holds a 64 KiB frame.
fn tuned() -> ClientConfig {
    ClientConfig {
        rx_buffer: 256 << 10,
        ..ClientConfig::default()
    }
}

fn main() {
    let mut c = common::criterion(common::ThreadCpu);
    let cases = [
        (
            "decode_text16",
            1u8,
            ascii_payload(16).into_bytes(),
            4096usize,
            Throughput::Elements(4096),
        ),
        (
            "decode_bin64k",
            2,
            binary_payload(65536),
            32,
            Throughput::Bytes(32 * 65536),
        ),
    ];
    for (group, opcode, payload, count, throughput) in cases {
        let buf: &'static [u8] = common::leak(server_frames(opcode, &payload, count));
        let header = buf.len() / count - payload.len();
        let plen = payload.len();
        let mut g = common::group(
            &mut c,
            group,
            throughput,
            Duration::from_millis(300),
            Duration::from_millis(1500),
        );

        let mut conn = open_connection(4096).unwrap();
        g.bench_function("ws_proto_recv", move |b| {
            b.iter(|| {
                let mut pos = 0;
                let mut n = 0;
                while pos < buf.len() {
                    let r = conn.recv(Instant::ZERO, &buf[pos..]).unwrap();
                    pos += r.consumed;
                    match r.event() {
                        Some(Event::Text(t)) => {
                            black_box(t);
                        }
                        Some(Event::Binary(d)) => {
                            black_box(d);
                        }
                        e => panic!("unexpected {e:?}"),
                    }
                    n += 1;
                }
                assert_eq!(n, count);
            })
        });

        let mut session = common::client_session(&ClientConfig::default());
        g.bench_function("ws_proto_session", move |b| {
            b.iter(|| {
                assert_eq!(through_session(&mut session, buf), count);
            })
        });

        let mut tuned_session = common::client_session(&tuned());
        g.bench_function("ws_proto_session_tuned", move |b| {
            b.iter(|| {
                assert_eq!(through_session(&mut tuned_session, buf), count);
            })
        });

        let replay = common::Replay::new(buf);
        let pos = replay.pos.clone();
        let mut ws = tungstenite::protocol::WebSocket::from_raw_socket(
            replay,
            tungstenite::protocol::Role::Client,
            None,
        );
        g.bench_function("tungstenite", move |b| {
            b.iter(|| {
                pos.set(0);
                for _ in 0..count {
                    match ws.read().unwrap() {
                        tungstenite::Message::Text(t) => {
                            black_box(t);
                        }
                        tungstenite::Message::Binary(d) => {
                            black_box(d);
                        }
                        m => panic!("unexpected {m:?}"),
                    }
                }
            })
        });

        let replay = common::Replay::new(buf);
        let fpos = replay.pos.clone();
        let mut fws =
            fastwebsockets::WebSocket::after_handshake(replay, fastwebsockets::Role::Client);
        g.bench_function("fastwebsockets", move |b| {
            b.iter(|| {
                fpos.set(0);
                for _ in 0..count {
                    let f = common::block_on(fws.read_frame()).unwrap();
                    black_box(&f.payload[..]);
                }
            })
        });

        let replay = common::Replay::new(buf);
        let tpos = replay.pos.clone();
        let mut tws = common::tokio_ws(replay);
        g.bench_function("tokio_websockets", move |b| {
            b.iter(|| {
                tpos.set(0);
                for _ in 0..count {
                    let m = common::block_on(tws.next()).unwrap().unwrap();
                    if let Some(t) = m.as_text() {
                        black_box(t);
                    } else {
                        black_box(&m.as_payload()[..]);
                    }
                }
            })
        });

        let mut ews = embedded_websocket::WebSocketClient::new_client(ws_benches::Rng06(
            ws_benches::XorShift::new(5),
        ));
        ews.state = embedded_websocket::WebSocketState::Open;
        let mut to = vec![0u8; plen + 16];
        // Socket reads as the others get them: whole frames, up to 64 KiB
        // a read (one frame at 64 KiB), copied into its read buffer.
        let frame = header + plen;
        let mut rbuf = vec![0u8; (65536 / frame).max(1) * frame];
        g.bench_function("embedded_websocket", move |b| {
            b.iter(|| {
                for chunk in buf.chunks(rbuf.len()) {
                    rbuf[..chunk.len()].copy_from_slice(chunk);
                    let mut pos = 0;
                    while pos < chunk.len() {
                        let r = ews.read(&rbuf[pos..chunk.len()], &mut to).unwrap();
                        pos += r.len_from;
                        let data = &to[..r.len_to];
                        if r.message_type == embedded_websocket::WebSocketReceiveMessageType::Text {
                            black_box(core::str::from_utf8(data).unwrap());
                        } else {
                            black_box(data);
                        }
                    }
                }
            })
        });

        if opcode == 1 {
            g.bench_function("anchor_from_utf8", move |b| {
                b.iter(|| {
                    for i in 0..count {
                        let at = i * (header + plen) + header;
                        black_box(core::str::from_utf8(black_box(&buf[at..at + plen])).unwrap());
                    }
                })
            });
        }
        let mut dst = vec![0u8; plen];
        g.bench_function("anchor_memcpy", move |b| {
            b.iter(|| {
                for i in 0..count {
                    let at = i * (header + plen) + header;
                    dst.copy_from_slice(black_box(&buf[at..at + plen]));
                    black_box(&dst);
                }
            })
        });
        g.finish();
    }
    c.final_summary();
}
