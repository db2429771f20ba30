//! permessage-deflate on the target ISA without an allocator (feature
//! `deflate`): the device profile asks for a 512-byte server window, the
//! connection inflates RFC 7692 section 7.2.3's "Hello" twice (the second
//! time from the shared window) into its in-place ring, and a 33-byte frame
//! that inflates to 4 KiB fails with 1009 against a 1 KiB limit.

use ws_proto::{
    Config, Connection, DataKind, DeflateConfig, Error, Event, HandshakeOptions, Instant,
    ProtocolError, Url,
};

use crate::peer::{ensure, find_key, response, Check, ScriptRng, URL};

const NONCE: &[u8] = &[7; 16];
const OFFER: &[u8] = b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; \
    client_max_window_bits\r\n";
const ANSWER: &[u8] =
    b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n\r\n";

/// Section 7.2.3.1 and 7.2.3.2: "Hello", then "Hello" again from the window.
const HELLO: [u8; 9] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
const HELLO_AGAIN: [u8; 7] = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];

/// 4096 zero bytes, raw DEFLATE with fixed codes and a 512-byte window.
const BOMB: [u8; 33] = [
    0xc2, 0x1f, 0x62, 0x60, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x8c, 0x82, 0x51, 0x30, 0x0a, 0x46, 0xc1,
    0x28, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x8c, 0x82, 0x51, 0x30, 0x0a, 0x46, 0xc1, 0x70, 0x07, 0x00,
    0x00,
];

type Conn = Connection<ScriptRng, [u8; 512]>;

/// A connection with the device profile and a 1 KiB limit, after the
/// server agreed.
fn open() -> Result<Conn, &'static str> {
    let url = Url::parse(URL).map_err(|_| "URL refused")?;
    let config = Config {
        max_message_size: 1024,
        deflate: Some(DeflateConfig::device()),
        ..Config::default()
    };
    let opts = HandshakeOptions::default();
    let mut conn = Connection::new(
        ScriptRng::new(NONCE),
        [0u8; 512],
        &url,
        &opts,
        config,
        Instant::ZERO,
    )
    .map_err(|_| "Connection::new failed")?;
    let offered = conn.transmit().windows(OFFER.len()).any(|w| w == OFFER);
    ensure(offered, "the request does not carry the device offer")?;
    let mut head = [0u8; 160];
    let key = find_key(conn.transmit()).ok_or("no key")?;
    let len = response(&mut head, key);
    let sent = conn.transmit().len();
    conn.advance_transmit(sent);
    // The response without its blank line, then the answer.
    let mut full = [0u8; 256];
    full[..len - 2].copy_from_slice(&head[..len - 2]);
    full[len - 2..len - 2 + ANSWER.len()].copy_from_slice(ANSWER);
    let full = &full[..len - 2 + ANSWER.len()];
    let r = conn
        .recv(Instant::ZERO, full)
        .map_err(|_| "the answer was refused")?;
    ensure(
        r.event() == Some(Event::Connected { protocol: None }),
        "not connected",
    )?;
    let bits = conn.deflate().map(|a| a.server_max_window_bits);
    ensure(bits == Some(9), "permessage-deflate not agreed with 9 bits")?;
    Ok(conn)
}

/// Receives one inflated message from `input` into `out`; returns its length.
fn message(conn: &mut Conn, mut input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let mut len = 0;
    for _ in 0..64 {
        let r = conn.recv(Instant::ZERO, input)?;
        if let Some(Event::Inflated { kind, fin }) = r.event() {
            let piece = conn.inflated();
            let end = (len + piece.len()).min(out.len());
            out[len..end].copy_from_slice(&piece[..end - len]);
            len = end;
            if fin && kind == DataKind::Text {
                return Ok(len);
            }
        }
        input = &input[r.consumed..];
    }
    Ok(usize::MAX)
}

pub(crate) fn device_profile() -> Check {
    let mut conn = open()?;
    let mut out = [0u8; 16];
    for frame in [&HELLO[..], &HELLO_AGAIN[..]] {
        let n = message(&mut conn, frame, &mut out).map_err(|_| "a Hello failed")?;
        ensure(
            out.get(..n) == Some(&b"Hello"[..]),
            "Hello did not inflate to Hello",
        )?;
    }
    let mut conn = open()?;
    let mut big = [0u8; 2048];
    ensure(
        message(&mut conn, &BOMB, &mut big) == Err(Error::Protocol(ProtocolError::MessageTooBig)),
        "the 4 KiB bomb was not refused with 1009",
    )
}
