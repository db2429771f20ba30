//! Encode one masked client text frame of 16 B, 1 KiB, 64 KiB and 1 MiB.
//!
//! Ours:
//! - `ws_proto_client`: what the std `Client` runs per message: its mask-key
//!   source (`MaskRandom`, ChaCha8 seeded from getrandom) and its default
//!   growable outbound queue; `send_text` + `transmit`/`advance_transmit`;
//! - `ws_proto_send_text`: the same path with a test xorshift source and a
//!   fixed queue (the protocol alone, without the CSPRNG);
//! - `ws_proto_encode_masked`: the bare codec (`frame::encode_masked`).
//!
//! Peers, each with its own key source: tungstenite (`write` + `flush`,
//! `rand`'s thread RNG), fastwebsockets (`write_frame`, its client path, and
//! `fastwebsockets_frame`: its lowest level, payload copied into a scratch
//! and masked in place), embedded-websocket (`write` into a slice, the
//! xorshift), tokio-websockets (its client `Sink`, `fastrand` keys, payload
//! copied into a `BytesMut` and masked in place with AVX2/AVX-512).
//! Anchors: memcpy, and a plain u64-word XOR copy (aligned to aligned: the
//! target), also run into the offset where a frame's payload starts.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::Throughput;
use futures_util::SinkExt;
use ws_benches::{ascii_payload, open_connection, xor_copy_u64, XorShift};
use ws_proto::frame::{encode_masked, OpCode};
use ws_transport_std::ClientConfig;

const SIZES: [(usize, &str); 4] = [
    (16, "16B"),
    (1024, "1KiB"),
    (65536, "64KiB"),
    (1 << 20, "1MiB"),
];

fn main() {
    let mut c = common::criterion(common::ThreadCpu);
    for (len, label) in SIZES {
        let text: &'static str = Box::leak(ascii_payload(len).into_boxed_str());
        let mut g = common::group(
            &mut c,
            format!("encode_{label}"),
            Throughput::Bytes(len as u64),
            Duration::from_millis(300),
            Duration::from_millis(1500),
        );

        // The std client's real path: MaskRandom keys, default growable queue.
        let mut client = common::client_connection(&ClientConfig::default());
        g.bench_function("ws_proto_client", move |b| {
            b.iter(|| {
                client.send_text(black_box(text)).unwrap();
                let n = black_box(client.transmit()).len();
                client.advance_transmit(n);
            })
        });

        let mut conn = open_connection(2 * len + 4096).unwrap();
        g.bench_function("ws_proto_send_text", move |b| {
            b.iter(|| {
                conn.send_text(black_box(text)).unwrap();
                let n = black_box(conn.transmit()).len();
                conn.advance_transmit(n);
            })
        });

        let mut out = vec![0u8; len + 64];
        let mut rng = XorShift::new(7);
        g.bench_function("ws_proto_encode_masked", move |b| {
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

        let mut ws = tungstenite::protocol::WebSocket::from_raw_socket(
            common::Replay::new(&[]),
            tungstenite::protocol::Role::Client,
            None,
        );
        let msg = tungstenite::Utf8Bytes::from_static(text);
        g.bench_function("tungstenite", move |b| {
            b.iter(|| {
                ws.write(tungstenite::Message::Text(black_box(msg.clone())))
                    .unwrap();
                ws.flush().unwrap();
            })
        });

        let mut fws = fastwebsockets::WebSocket::after_handshake(
            common::Replay::new(&[]),
            fastwebsockets::Role::Client,
        );
        g.bench_function("fastwebsockets", move |b| {
            b.iter(|| {
                let frame = fastwebsockets::Frame::text(fastwebsockets::Payload::Borrowed(
                    black_box(text.as_bytes()),
                ));
                common::block_on(fws.write_frame(frame)).unwrap();
            })
        });

        let mut scratch = vec![0u8; len];
        let mut fout: Vec<u8> = Vec::with_capacity(len + 16);
        let mut rng = XorShift::new(9);
        g.bench_function("fastwebsockets_frame", move |b| {
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
            embedded_websocket::WebSocketClient::new_client(ws_benches::Rng06(XorShift::new(11)));
        ews.state = embedded_websocket::WebSocketState::Open;
        let mut eout = vec![0u8; len + 64];
        g.bench_function("embedded_websocket", move |b| {
            b.iter(|| {
                let n = ews
                    .write(
                        embedded_websocket::WebSocketSendMessageType::Text,
                        true,
                        black_box(text.as_bytes()),
                        &mut eout,
                    )
                    .unwrap();
                black_box(&eout[..n]);
            })
        });

        let mut tws = common::tokio_ws(common::Replay::new(&[]));
        g.bench_function("tokio_websockets", move |b| {
            b.iter(|| {
                common::block_on(tws.send(tokio_websockets::Message::text(black_box(text))))
                    .unwrap();
            })
        });

        let mut mout = vec![0u8; len + 64];
        g.bench_function("anchor_memcpy", move |b| {
            b.iter(|| {
                mout[..len].copy_from_slice(black_box(text.as_bytes()));
                black_box(&mout[..len]);
            })
        });

        let mut xout = vec![0u8; len + 64];
        let mut rng = XorShift::new(13);
        g.bench_function("anchor_u64_xor", move |b| {
            b.iter(|| {
                let key = (rng.next_u64() as u32).to_ne_bytes();
                xor_copy_u64(&mut xout[..len], black_box(text.as_bytes()), key);
                black_box(&xout[..len]);
            })
        });
        // The same anchor writing where a frame's payload sits (after a
        // 14-byte header at 64 KiB and up; 8 bytes at 1 KiB, 6 at 16 B):
        // not the target, the cost of that offset alone.
        let mut fout2 = vec![0u8; len + 64];
        let at = ws_proto::frame::header_len(len as u64, true);
        let mut rng = XorShift::new(17);
        g.bench_function("anchor_u64_xor_at_payload", move |b| {
            b.iter(|| {
                let key = (rng.next_u64() as u32).to_ne_bytes();
                xor_copy_u64(&mut fout2[at..at + len], black_box(text.as_bytes()), key);
                black_box(&fout2[at..at + len]);
            })
        });
        g.finish();
    }
    c.final_summary();
}
