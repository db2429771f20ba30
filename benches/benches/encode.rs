//! Encode one masked client text frame: ws-proto (the realistic
//! `send_text` + `transmit`/`advance_transmit` path, and bare
//! `frame::encode_masked`) against tungstenite, fastwebsockets and
//! embedded-websocket, with two anchors: a plain memcpy of the payload and a
//! plain u64-word XOR copy of it.
//!
//! All clients here draw mask keys from their own source: ws-proto and
//! embedded-websocket from the bench's xorshift (not secure, benches only),
//! tungstenite and fastwebsockets from `rand`'s thread RNG (their design).
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
use ws_benches::{ascii_payload, open_connection, xor_copy_u64, XorShift};
use ws_proto::frame::{encode_masked, OpCode};

const SIZES: [(usize, &str); 4] = [
    (16, "16B"),
    (1024, "1KiB"),
    (65536, "64KiB"),
    (1 << 20, "1MiB"),
];

fn encode(c: &mut Criterion) {
    for (len, label) in SIZES {
        let text: &'static str = Box::leak(ascii_payload(len).into_boxed_str());
        let mut g = c.benchmark_group(format!("encode_{label}"));
        g.throughput(Throughput::Bytes(len as u64));
        let mut out = vec![0u8; len + 64];

        // ws-proto: queue the frame, hand the bytes to the "socket", advance.
        let mut conn = open_connection(2 * len + 4096).unwrap();
        g.bench_function(BenchmarkId::from_parameter("ws_proto_send_text"), |b| {
            b.iter(|| {
                conn.send_text(black_box(text)).unwrap();
                let n = black_box(conn.transmit()).len();
                conn.advance_transmit(n);
            })
        });

        let mut rng = XorShift::new(7);
        g.bench_function(BenchmarkId::from_parameter("ws_proto_encode_masked"), |b| {
            b.iter(|| {
                let key = (rng.next_u64() as u32).to_ne_bytes();
                let n = encode_masked(
                    &mut out,
                    OpCode::Text,
                    true,
                    black_box(text.as_bytes()),
                    key,
                );
                black_box(&out[..n.unwrap()]);
            })
        });

        // tungstenite's client write path: WebSocket::write + flush into a sink.
        let mut ws = tungstenite::protocol::WebSocket::from_raw_socket(
            common::Replay::new(&[]),
            tungstenite::protocol::Role::Client,
            None,
        );
        let msg = tungstenite::Utf8Bytes::from_static(text);
        g.bench_function(BenchmarkId::from_parameter("tungstenite"), |b| {
            b.iter(|| {
                ws.write(tungstenite::Message::Text(black_box(msg.clone())))
                    .unwrap();
                ws.flush().unwrap();
            })
        });

        // fastwebsockets' client write path: WebSocket::write_frame (random
        // key from `rand`, Borrowed payload copied to mask it) into a sink.
        let mut fws = fastwebsockets::WebSocket::after_handshake(
            common::Replay::new(&[]),
            fastwebsockets::Role::Client,
        );
        g.bench_function(BenchmarkId::from_parameter("fastwebsockets"), |b| {
            b.iter(|| {
                let frame = fastwebsockets::Frame::text(fastwebsockets::Payload::Borrowed(
                    black_box(text.as_bytes()),
                ));
                common::block_on(fws.write_frame(frame)).unwrap();
            })
        });

        // fastwebsockets' lowest level: our key, payload copied into a
        // mutable scratch (masking is in place), masked, written to a Vec.
        let mut scratch = vec![0u8; len];
        let mut fout: Vec<u8> = Vec::with_capacity(len + 16);
        let mut rng = XorShift::new(9);
        g.bench_function(BenchmarkId::from_parameter("fastwebsockets_frame"), |b| {
            b.iter(|| {
                scratch.copy_from_slice(black_box(text.as_bytes()));
                let key = (rng.next_u64() as u32).to_ne_bytes();
                let mut frame = fastwebsockets::Frame::new(
                    true,
                    fastwebsockets::OpCode::Text,
                    Some(key),
                    fastwebsockets::Payload::BorrowedMut(&mut scratch),
                );
                frame.mask();
                black_box(frame.write(&mut fout));
            })
        });

        let mut ews =
            embedded_websocket::WebSocketClient::new_client(common::Rng06(XorShift::new(11)));
        ews.state = embedded_websocket::WebSocketState::Open;
        g.bench_function(BenchmarkId::from_parameter("embedded_websocket"), |b| {
            b.iter(|| {
                let n = ews
                    .write(
                        embedded_websocket::WebSocketSendMessageType::Text,
                        true,
                        black_box(text.as_bytes()),
                        &mut out,
                    )
                    .unwrap();
                black_box(&out[..n]);
            })
        });

        g.bench_function(BenchmarkId::from_parameter("anchor_memcpy"), |b| {
            b.iter(|| {
                out[..len].copy_from_slice(black_box(text.as_bytes()));
                black_box(&out[..len]);
            })
        });

        let mut rng = XorShift::new(13);
        g.bench_function(BenchmarkId::from_parameter("anchor_u64_xor"), |b| {
            b.iter(|| {
                let key = (rng.next_u64() as u32).to_ne_bytes();
                xor_copy_u64(&mut out[..len], black_box(text.as_bytes()), key);
                black_box(&out[..len]);
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = encode
}
criterion_main!(benches);
