//! RFC 6455's own examples: the section 1.3 / 4.2.2 key and accept pair, and
//! the section 5.7 frames in both directions, byte for byte (the scripted
//! random source gives the RFC's mask key, so our masked frames must equal
//! the RFC's).

use ws_proto::handshake::{accept_key, encode_key};
use ws_proto::{
    Config, DataKind, Error, Event, HandshakeError, HandshakeOptions, Instant, ProtocolError, Url,
};

use crate::peer::{ensure, feed, feed_until_error, open, Check, Pattern, ScriptRng, URL};

/// Section 1.3: the nonce, its key and the server's accept value.
const NONCE: &[u8; 16] = b"the sample nonce";
const KEY: &[u8; 24] = b"dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &[u8; 28] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Section 5.7: "Hello" masked with the key 37 fa 21 3d, as a text frame and
/// as a pong.
const MASKED_TEXT: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
const MASKED_PONG: [u8; 11] = [
    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

/// Sections 1.3 and 4.2.2: the key is base64 of the nonce, the accept value
/// base64(SHA-1(key + GUID)); a connection whose random source gives the
/// sample nonce sends that key and takes the RFC's response, and refuses it
/// with one character of the accept value changed.
pub(crate) fn handshake() -> Check {
    ensure(encode_key(NONCE) == *KEY, "key of the sample nonce")?;
    ensure(accept_key(KEY) == *ACCEPT, "accept value of the sample key")?;
    let mut response = *b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let mut conn = connecting()?;
    ensure(
        crate::peer::find_key(conn.transmit()) == Some(&KEY[..]),
        "the request does not carry the sample key",
    )?;
    let mut connected = false;
    feed(&mut conn, &response, |e| {
        connected = e == Event::Connected { protocol: None };
        Ok(())
    })?;
    ensure(connected, "the RFC's response was not accepted")?;

    let at = response.len() - 5;
    response[at] = b'P';
    let mut conn = connecting()?;
    let (_, err) = feed_until_error(&mut conn, &response, &mut |_| {
        Err("event from a bad accept")
    })?;
    ensure(
        err == Some(Error::Handshake(HandshakeError::Accept)),
        "a wrong accept value was not refused",
    )
}

fn connecting() -> Result<ws_proto::Connection<ScriptRng, [u8; 512]>, &'static str> {
    let url = Url::parse(URL).map_err(|_| "URL refused")?;
    ws_proto::Connection::new(
        ScriptRng::new(NONCE),
        [0u8; 512],
        &url,
        &HandshakeOptions::default(),
        Config::default(),
        Instant::ZERO,
    )
    .map_err(|_| "Connection::new failed")
}

/// Section 5.7, every example but the 64 KiB one (see `stream`): single and
/// fragmented unmasked text, unmasked ping with our masked pong, our masked
/// text, 256 bytes of binary; and the RFC's masked frame sent by a server is
/// refused with 1002 (servers must not mask).
pub(crate) fn frames() -> Check {
    // The nonce, then the RFC's mask key (37 fa 21 3d) for the pong and for
    // the text.
    const SCRIPT: &[u8] = &[
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x37, 0xfa, 0x21, 0x3d, 0x37, 0xfa,
        0x21, 0x3d,
    ];
    let mut conn = open::<512>(ScriptRng::new(SCRIPT), Config::default())?;

    let mut got = false;
    feed(
        &mut conn,
        &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        |e| {
            got = e == Event::Text("Hello");
            ensure(got, "single-frame text: wrong event")
        },
    )?;
    ensure(got, "single-frame text: no event")?;

    let mut pieces = 0;
    let fragmented = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    feed(&mut conn, &fragmented, |e| {
        pieces += 1;
        let want = match pieces {
            1 => (&b"Hel"[..], false),
            _ => (&b"lo"[..], true),
        };
        ensure(
            e == Event::Fragment {
                kind: DataKind::Text,
                data: want.0,
                fin: want.1,
            },
            "fragmented text: wrong piece",
        )
    })?;
    ensure(pieces == 2, "fragmented text: not two pieces")?;

    let mut pinged = false;
    feed(
        &mut conn,
        &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        |e| {
            pinged = e == Event::Ping(b"Hello");
            ensure(pinged, "ping: wrong event")
        },
    )?;
    ensure(pinged, "ping: no event")?;
    ensure(
        conn.transmit() == MASKED_PONG,
        "the pong differs from the RFC's",
    )?;
    conn.advance_transmit(MASKED_PONG.len());

    conn.send_text("Hello").map_err(|_| "send_text refused")?;
    ensure(
        conn.transmit() == MASKED_TEXT,
        "the masked text differs from the RFC's",
    )?;
    conn.advance_transmit(MASKED_TEXT.len());

    let mut binary = [0u8; 4 + 256];
    binary[..4].copy_from_slice(&[0x82, 0x7e, 0x01, 0x00]);
    for (i, b) in binary[4..].iter_mut().enumerate() {
        *b = Pattern::Binary.byte(i);
    }
    let mut got = false;
    feed(&mut conn, &binary, |e| {
        got = e == Event::Binary(&binary[4..]);
        ensure(got, "256-byte binary: wrong event")
    })?;
    ensure(got, "256-byte binary: no event")?;

    let (_, err) = feed_until_error(&mut conn, &MASKED_TEXT, &mut |_| {
        Err("event from a masked server frame")
    })?;
    ensure(
        err == Some(Error::Protocol(ProtocolError::MaskedFrame)),
        "a masked server frame was not refused",
    )?;
    ensure(
        crate::peer::close_code_on_wire(conn.transmit()) == Some(1002),
        "no close frame with 1002 after a masked server frame",
    )
}
