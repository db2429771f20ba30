//! The protocol core alone: a `ws_proto::Session` with array buffers does the
//! handshake (with `Sec-WebSocket-Accept` validation), sends a text and a
//! ping, and decodes every frame kind until the server's close. No transport.
#![no_std]
#![no_main]

use core::hint::black_box;

use ws_footprint::{Rng, Server, MSG, RX, TX};
use ws_proto::{Config, Connection, HandshakeOptions, Instant, Session, SessionEvent, Url};

#[no_mangle]
pub extern "C" fn _start() -> ! {
    let mut server = Server::new();
    let mut run = || -> Option<()> {
        let url = Url::parse(black_box("ws://echo.local:8080/stream")).ok()?;
        let conn = Connection::new(
            Rng(black_box(0x2545_f491)),
            [0u8; TX],
            &url,
            &HandshakeOptions::default(),
            Config {
                max_message_size: MSG as u64,
                ..Config::default()
            },
            Instant::ZERO,
        )
        .ok()?;
        let mut s = Session::new(conn, [0u8; RX], [0u8; MSG]).ok()?;
        let mut t = 0u64;
        loop {
            t += 1;
            let now = Instant::from_millis(black_box(t));
            let n = server.take(s.transmit());
            s.advance_transmit(n);
            let n = server.give(s.read_buf());
            s.commit_read(n);
            let mut connected = false;
            while let Some(ev) = s.poll_event(now) {
                match ev {
                    SessionEvent::Connected { .. } => connected = true,
                    SessionEvent::Closed(d) => {
                        black_box(d);
                        return Some(());
                    }
                    other => {
                        black_box(other);
                    }
                }
            }
            if connected {
                let _ = s.connection().send_text(black_box("hello"));
                let _ = s.connection().ping(black_box(b"p"));
            }
        }
    };
    black_box(run());
    loop {
        core::hint::spin_loop();
    }
}
