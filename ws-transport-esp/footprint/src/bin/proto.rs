//! The protocol core alone: a `ws_proto::Session` with array buffers does the
//! handshake (with `Sec-WebSocket-Accept` validation), sends a text and a
//! ping, and decodes every frame kind until the server's close. No transport.
//!
//! The buffers are `static`s (`.bss`), lent as `&mut [u8]`, as on a device
//! with a small task stack: only the session's state is on the stack. The
//! fake server (the network, not the device's code) is a `static` too.
#![no_std]
#![no_main]

use core::hint::black_box;

use ws_footprint::{Rng, Server, MSG, RX, TX};
use ws_proto::{Config, HandshakeOptions, Instant, Session, SessionEvent, Url};

/// The outbound queue's bytes.
static mut TX_BUF: [u8; TX] = [0; TX];
/// The receive buffer.
static mut RX_BUF: [u8; RX] = [0; RX];
/// The assembler's bytes.
static mut MSG_BUF: [u8; MSG] = [0; MSG];
/// The peer.
static mut SERVER: Server = Server::new();

#[no_mangle]
pub extern "C" fn _start() -> ! {
    // SAFETY: `_start` runs once, alone (one hart, no interrupts), and this
    // is the only place that names these statics: each reference is unique.
    let (server, tx, rx, msg) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(SERVER),
            &mut *core::ptr::addr_of_mut!(TX_BUF),
            &mut *core::ptr::addr_of_mut!(RX_BUF),
            &mut *core::ptr::addr_of_mut!(MSG_BUF),
        )
    };
    let mut run = || -> Option<()> {
        let url = Url::parse(black_box("ws://echo.local:8080/stream")).ok()?;
        // Built in place, as a device with a static slot does: the session
        // over the storage first, then the connection started inside it.
        let config = Config {
            max_message_size: MSG as u64,
            ..Config::default()
        };
        let mut s = Session::idle(
            Rng(black_box(0x2545_f491)),
            &mut tx[..],
            &mut rx[..],
            &mut msg[..],
            false,
        );
        s.fits(config.max_message_size).ok()?;
        s.restart(&url, &HandshakeOptions::default(), config, Instant::ZERO)
            .ok()?;
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
