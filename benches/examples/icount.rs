//! Runs one hot path a fixed number of times, for instruction counting:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/icount CASE N
//! ```
//!
//! Instructions per operation = (Ir(N) - Ir(0)) / N; `scripts/icount.sh`
//! does the subtraction. CASE is one of the names `icount list` prints
//! (`session_bin_64k` also runs, but is left out of the list: valgrind counts
//! each byte of glibc's `rep movsb` copy as an instruction, so large copies
//! are measured by time instead).

use std::hint::black_box;

use ws_benches::{ascii_payload, binary_payload, open_connection, server_frames, Rng06, XorShift};
use ws_proto::frame::{encode_masked, OpCode};
use ws_proto::{Event, GrowableBuffer, Instant, Message, Session, SessionEvent};
use ws_transport_std::{ClientConfig, MaskRandom};

/// A session with the std client's default storage and mask-key source.
fn client_session() -> Session<MaskRandom, GrowableBuffer, GrowableBuffer, GrowableBuffer> {
    let c = ClientConfig::default();
    let st = c.storage();
    let conn = ws_benches::open_connection_with(st.rng, st.tx, c.connection_config()).unwrap();
    Session::new(conn, st.rx, st.assembler).unwrap()
}

fn ews() -> embedded_websocket::WebSocketClient<Rng06> {
    let mut ews = embedded_websocket::WebSocketClient::new_client(Rng06(XorShift::new(11)));
    ews.state = embedded_websocket::WebSocketState::Open;
    ews
}

const CASES: [&str; 12] = [
    "client_send_text_16",
    "ews_send_text_16",
    "session_text_16",
    "ews_recv_text_16",
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
        "client_send_text_16" => {
            let text = ascii_payload(16);
            let c = ClientConfig::default();
            let st = c.storage();
            let mut conn =
                ws_benches::open_connection_with(st.rng, st.tx, c.connection_config()).unwrap();
            for _ in 0..n {
                conn.send_text(black_box(&text)).unwrap();
                let k = black_box(conn.transmit()).len();
                conn.advance_transmit(k);
            }
        }
        "ews_send_text_16" => {
            let text = ascii_payload(16);
            let mut ews = ews();
            let mut out = [0u8; 64];
            for _ in 0..n {
                let k = ews
                    .write(
                        embedded_websocket::WebSocketSendMessageType::Text,
                        true,
                        black_box(text.as_bytes()),
                        &mut out,
                    )
                    .unwrap();
                black_box(&out[..k]);
            }
        }
        "session_text_16" | "session_bin_64k" => {
            // A stream of messages built once (its size does not depend on
            // N), fed as socket reads of whatever fits, N messages in all.
            let (buf, per) = if case == "session_text_16" {
                (server_frames(1, ascii_payload(16).as_bytes(), 2000), 2000)
            } else {
                (server_frames(2, &binary_payload(65536), 16), 16)
            };
            let frame = buf.len() / per;
            let mut s = client_session();
            let mut got = 0;
            while got < n {
                let buf = &buf[..frame * per.min(n - got)];
                let mut pos = 0;
                while pos < buf.len() {
                    let dst = s.read_buf();
                    let k = dst.len().min(buf.len() - pos);
                    dst[..k].copy_from_slice(&buf[pos..pos + k]);
                    pos += k;
                    s.commit_read(k);
                    while let Some(ev) = s.poll_event(Instant::ZERO) {
                        match ev {
                            SessionEvent::Message(Message::Text(t)) => black_box(t.len()),
                            SessionEvent::Message(Message::Binary(b)) => black_box(b.len()),
                            e => panic!("unexpected {e:?}"),
                        };
                        got += 1;
                    }
                }
            }
        }
        "ews_recv_text_16" => {
            let buf = server_frames(1, ascii_payload(16).as_bytes(), 2000);
            let frame = buf.len() / 2000;
            let mut ews = ews();
            let mut to = [0u8; 64];
            let mut got = 0;
            while got < n {
                let buf = &buf[..frame * 2000.min(n - got)];
                let mut pos = 0;
                while pos < buf.len() {
                    let r = ews.read(&buf[pos..], &mut to).unwrap();
                    pos += r.len_from;
                    black_box(core::str::from_utf8(&to[..r.len_to]).unwrap());
                    got += 1;
                }
            }
        }
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
