//! Decode server frames from a buffer holding many: 16-byte text messages
//! (UTF-8 validated, as a conforming client must) in messages/s, and 64 KiB
//! binary messages in bytes/s. ws-proto (`Connection::recv` over the buffer,
//! and the `Session` a transport uses, which first copies the bytes into its
//! receive buffer as a socket read would) against tungstenite,
//! fastwebsockets and embedded-websocket; anchors: `core::str::from_utf8` of
//! each payload, and a memcpy of each payload.
//!
//! The peers read from an in-memory stream, which copies the bytes into their
//! buffers (as a socket read would); `ws_proto_recv` borrows from the buffer
//! directly, `ws_proto_session` pays the same copy as the peers.
//! embedded-websocket does not validate UTF-8 itself: its row adds
//! `core::str::from_utf8`, as a conforming client would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core,
    missing_docs
)]

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ws_benches::{ascii_payload, binary_payload, open_connection, server_frames};
use ws_proto::{Event, Instant, Message, Session, SessionEvent};

struct Case {
    group: &'static str,
    opcode: u8,
    payload: Vec<u8>,
    count: usize,
    throughput: Throughput,
}

fn decode(c: &mut Criterion) {
    let cases = [
        Case {
            group: "decode_text16",
            opcode: 1,
            payload: ascii_payload(16).into_bytes(),
            count: 4096,
            throughput: Throughput::Elements(4096),
        },
        Case {
            group: "decode_bin64k",
            opcode: 2,
            payload: binary_payload(65536),
            count: 32,
            throughput: Throughput::Bytes(32 * 65536),
        },
    ];
    for case in cases {
        let buf: &'static [u8] =
            common::leak(server_frames(case.opcode, &case.payload, case.count));
        let header = buf.len() / case.count - case.payload.len();
        let plen = case.payload.len();
        let count = case.count;
        let mut g = c.benchmark_group(case.group);
        g.throughput(case.throughput);

        let mut conn = open_connection(4096).unwrap();
        g.bench_function(BenchmarkId::from_parameter("ws_proto_recv"), |b| {
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

        // The transport's view: bytes copied into the session's receive
        // buffer (256 KiB, as a socket read), whole messages out.
        let conn = open_connection(4096).unwrap();
        let mut session = Session::streaming(conn, vec![0u8; 256 << 10], Vec::new()).unwrap();
        g.bench_function(BenchmarkId::from_parameter("ws_proto_session"), |b| {
            b.iter(|| {
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
                            SessionEvent::Fragment { data, fin, .. } => {
                                black_box(data);
                                if !fin {
                                    continue;
                                }
                            }
                            e => panic!("unexpected {e:?}"),
                        }
                        n += 1;
                    }
                }
                assert_eq!(n, count);
            })
        });

        let replay = common::Replay::new(buf);
        let pos = replay.pos.clone();
        let mut ws = tungstenite::protocol::WebSocket::from_raw_socket(
            replay,
            tungstenite::protocol::Role::Client,
            None,
        );
        g.bench_function(BenchmarkId::from_parameter("tungstenite"), |b| {
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
        let pos = replay.pos.clone();
        let mut fws =
            fastwebsockets::WebSocket::after_handshake(replay, fastwebsockets::Role::Client);
        g.bench_function(BenchmarkId::from_parameter("fastwebsockets"), |b| {
            b.iter(|| {
                pos.set(0);
                for _ in 0..count {
                    let f = common::block_on(fws.read_frame()).unwrap();
                    black_box(&f.payload[..]);
                }
            })
        });

        let mut ews = embedded_websocket::WebSocketClient::new_client(common::Rng06(
            ws_benches::XorShift::new(5),
        ));
        ews.state = embedded_websocket::WebSocketState::Open;
        let mut to = vec![0u8; plen + 16];
        g.bench_function(BenchmarkId::from_parameter("embedded_websocket"), |b| {
            b.iter(|| {
                let mut pos = 0;
                while pos < buf.len() {
                    let r = ews.read(&buf[pos..], &mut to).unwrap();
                    pos += r.len_from;
                    let data = &to[..r.len_to];
                    if r.message_type == embedded_websocket::WebSocketReceiveMessageType::Text {
                        black_box(core::str::from_utf8(data).unwrap());
                    } else {
                        black_box(data);
                    }
                }
            })
        });

        if case.opcode == 1 {
            g.bench_function(BenchmarkId::from_parameter("anchor_from_utf8"), |b| {
                b.iter(|| {
                    for i in 0..count {
                        let at = i * (header + plen) + header;
                        black_box(core::str::from_utf8(black_box(&buf[at..at + plen])).unwrap());
                    }
                })
            });
        }
        let mut dst = vec![0u8; plen];
        g.bench_function(BenchmarkId::from_parameter("anchor_memcpy"), |b| {
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
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = decode
}
criterion_main!(benches);
