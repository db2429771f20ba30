//! Heap allocations per message in steady state, counted by a global
//! allocator wrapper: ws-proto (bare, and with the std `Client`'s own
//! storage and mask-key source), tungstenite, fastwebsockets,
//! embedded-websocket and tokio-websockets sending and receiving 32-byte
//! text messages (1,000 messages of warm-up, then 10,000 counted). The
//! executor for the async peers uses `Waker::noop()`, so every allocation
//! counted is the peer's own. Prints `alloc ...` lines, which
//! `scripts/bench-table.sh` collects.

mod common;

use std::alloc::System;
use std::hint::black_box;

use futures_util::{SinkExt, StreamExt};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use ws_benches::{ascii_payload, open_connection, server_frames, XorShift};
use ws_proto::{Event, Instant, Message, Session, SessionEvent};
use ws_transport_std::ClientConfig;

/// Counts every allocation (`stats_alloc`'s wrapper around `System`).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const WARM: usize = 1_000;
const COUNT: usize = 10_000;
const LEN: usize = 32;

/// Runs `step` WARM times, then COUNT times while counting.
fn measure(lib: &str, op: &str, mut step: impl FnMut()) {
    for _ in 0..WARM {
        step();
    }
    let region = Region::new(GLOBAL);
    for _ in 0..COUNT {
        step();
    }
    let stats = region.change();
    let a = stats.allocations + stats.reallocations;
    // A growing realloc is already in `bytes_allocated` (stats_alloc adds
    // the difference there too): adding `bytes_reallocated` counted it twice.
    let b = stats.bytes_allocated;
    println!(
        "alloc {lib:<22} {op:<5} {:>6.2} allocations/message {:>8.1} bytes allocated/message",
        a as f64 / COUNT as f64,
        b as f64 / COUNT as f64
    );
}

fn main() {
    let text = ascii_payload(LEN);
    let stat: &'static str = Box::leak(text.clone().into_boxed_str());
    let frames = common::leak(server_frames(1, text.as_bytes(), WARM + COUNT));

    // ws-proto: Connection (send_text + transmit, recv) and Session.
    let mut conn = open_connection(64 << 10).unwrap();
    measure("ws-proto Connection", "send", || {
        conn.send_text(&text).unwrap();
        let n = black_box(conn.transmit()).len();
        conn.advance_transmit(n);
    });
    let mut conn = open_connection(64 << 10).unwrap();
    let mut pos = 0;
    measure("ws-proto Connection", "recv", || {
        let r = conn.recv(Instant::ZERO, &frames[pos..]).unwrap();
        pos += r.consumed;
        assert!(matches!(r.event(), Some(Event::Text(_))));
    });
    let mut session = Session::new(
        open_connection(64 << 10).unwrap(),
        vec![0u8; 64 << 10],
        vec![0u8; 64 << 20],
    )
    .unwrap();
    let mut pos = 0;
    measure("ws-proto Session", "recv", || {
        recv_one(&mut session, frames, &mut pos)
    });

    // The std Client's own storage (growable buffers) and MaskRandom.
    let mut client = common::client_connection(&ClientConfig::default());
    measure("ws-proto Client storage", "send", || {
        client.send_text(&text).unwrap();
        let n = black_box(client.transmit()).len();
        client.advance_transmit(n);
    });
    let mut session = common::client_session(&ClientConfig::default());
    let mut pos = 0;
    measure("ws-proto Client storage", "recv", || {
        recv_one(&mut session, frames, &mut pos)
    });

    // tungstenite: WebSocket over an in-memory stream.
    let mut ws = tungstenite::protocol::WebSocket::from_raw_socket(
        common::Replay::new(frames),
        tungstenite::protocol::Role::Client,
        None,
    );
    let msg = tungstenite::Utf8Bytes::from_static(stat);
    measure("tungstenite", "send", || {
        ws.write(tungstenite::Message::Text(msg.clone())).unwrap();
        ws.flush().unwrap();
    });
    measure("tungstenite", "recv", || {
        black_box(ws.read().unwrap());
    });

    // fastwebsockets: WebSocket over the same kind of stream.
    let mut fws = fastwebsockets::WebSocket::after_handshake(
        common::Replay::new(frames),
        fastwebsockets::Role::Client,
    );
    measure("fastwebsockets", "send", || {
        let f = fastwebsockets::Frame::text(fastwebsockets::Payload::Borrowed(stat.as_bytes()));
        common::block_on(fws.write_frame(f)).unwrap();
    });
    measure("fastwebsockets", "recv", || {
        let f = common::block_on(fws.read_frame()).unwrap();
        black_box(&f.payload[..]);
    });

    // embedded-websocket: slices in, slices out.
    let mut ews =
        embedded_websocket::WebSocketClient::new_client(ws_benches::Rng06(XorShift::new(1)));
    ews.state = embedded_websocket::WebSocketState::Open;
    let mut out = vec![0u8; 256];
    measure("embedded-websocket", "send", || {
        let n = ews
            .write(
                embedded_websocket::WebSocketSendMessageType::Text,
                true,
                text.as_bytes(),
                &mut out,
            )
            .unwrap();
        black_box(&out[..n]);
    });
    let mut pos = 0;
    measure("embedded-websocket", "recv", || {
        let r = ews.read(&frames[pos..], &mut out).unwrap();
        pos += r.len_from;
        black_box(core::str::from_utf8(&out[..r.len_to]).unwrap());
    });

    // tokio-websockets: its client codec over the same kind of stream.
    let mut tws = common::tokio_ws(common::Replay::new(frames));
    measure("tokio-websockets", "send", || {
        common::block_on(tws.send(tokio_websockets::Message::text(stat))).unwrap();
    });
    measure("tokio-websockets", "recv", || {
        let m = common::block_on(tws.next()).unwrap().unwrap();
        black_box(m.as_text());
    });
}

/// Feeds `frames` from `pos` to `session` as socket reads of whatever fits
/// until it hands out one text message.
fn recv_one<R, TX, RX, A>(session: &mut Session<R, TX, RX, A>, frames: &[u8], pos: &mut usize)
where
    R: ws_proto::Random,
    TX: ws_proto::Buffer,
    RX: ws_proto::Buffer,
    A: ws_proto::Buffer,
{
    loop {
        if let Some(ev) = session.poll_event(Instant::ZERO) {
            assert!(matches!(ev, SessionEvent::Message(Message::Text(_))));
            return;
        }
        let dst = session.read_buf();
        let k = dst.len().min(frames.len() - *pos);
        dst[..k].copy_from_slice(&frames[*pos..*pos + k]);
        *pos += k;
        session.commit_read(k);
    }
}
