//! Runs one hot path a fixed number of times, for instruction counting:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/icount CASE N
//! ```
//!
//! Instructions per operation = (Ir(N) - Ir(0)) / N; `scripts/icount.sh`
//! does the subtraction. CASE is one of the names `icount list` prints.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

use std::hint::black_box;

use ws_benches::{ascii_payload, binary_payload, open_connection, server_frames, XorShift};
use ws_proto::frame::{encode_masked, OpCode};
use ws_proto::{Event, Instant};

const CASES: [&str; 8] = [
    "send_text_16",
    "encode_masked_16",
    "encode_masked_64k",
    "copy_masked_64k_off14",
    "send_text_64k",
    "recv_text_16",
    "recv_bin_64k",
    "from_utf8_16",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let case = args.get(1).map_or("list", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    match case {
        "send_text_16" | "send_text_64k" => {
            let len = if case.ends_with("16") { 16 } else { 65536 };
            let text = ascii_payload(len);
            let mut conn = open_connection(2 * len + 4096).unwrap();
            for _ in 0..n {
                conn.send_text(black_box(&text)).unwrap();
                let k = black_box(conn.transmit()).len();
                conn.advance_transmit(k);
            }
        }
        "encode_masked_16" | "encode_masked_64k" => {
            let len = if case.ends_with("16") { 16 } else { 65536 };
            let text = ascii_payload(len);
            let mut out = vec![0u8; len + 16];
            let mut rng = XorShift::new(3);
            for _ in 0..n {
                let key = (rng.next_u64() as u32).to_ne_bytes();
                let w = encode_masked(
                    &mut out,
                    OpCode::Text,
                    true,
                    black_box(text.as_bytes()),
                    key,
                );
                black_box(&out[..w.unwrap()]);
            }
        }
        "copy_masked_64k_off14" => {
            let src = binary_payload(65536);
            let mut out = vec![0u8; 65536 + 64];
            for i in 0..n {
                ws_proto::mask::copy_masked(
                    &mut out[14..14 + 65536],
                    black_box(&src),
                    [i as u8, 2, 3, 4],
                );
                black_box(&out);
            }
        }
        "recv_text_16" | "recv_bin_64k" => {
            let (op, payload, count) = if case == "recv_text_16" {
                (1, ascii_payload(16).into_bytes(), 1)
            } else {
                (2, binary_payload(65536), 1)
            };
            let buf = server_frames(op, &payload, count);
            let mut conn = open_connection(4096).unwrap();
            for _ in 0..n {
                let r = conn.recv(Instant::ZERO, black_box(&buf)).unwrap();
                match r.event() {
                    Some(Event::Text(t)) => {
                        black_box(t);
                    }
                    Some(Event::Binary(b)) => {
                        black_box(b);
                    }
                    e => panic!("unexpected {e:?}"),
                }
            }
        }
        "from_utf8_16" => {
            let payload = ascii_payload(16).into_bytes();
            for _ in 0..n {
                black_box(core::str::from_utf8(black_box(&payload)).is_ok());
            }
        }
        _ => {
            for c in CASES {
                println!("{c}");
            }
        }
    }
}
