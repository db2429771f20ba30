//! UTF-8 in text messages (RFC 6455 section 8.1): a code point split across
//! two fragments is accepted, and an invalid sequence fails the connection
//! with 1007 as soon as its byte arrives, before the rest of the frame.

use ws_proto::{Config, DataKind, Error, Event, Message, ProtocolError, SessionEvent};

use crate::peer::{ensure, feed, feed_until_error, open, Check, Part, Peer, ScriptRng};
use crate::stream::{drive, session};

/// "a€b" in two fragments split inside the "€" (E2 | 82 AC), through a
/// `Connection`; and "x😀y" split inside the emoji (F0 9F | 98 80), through a
/// `Session` that reads one byte at a time and joins the message.
pub(crate) fn split_code_point() -> Check {
    let mut conn = open::<512>(ScriptRng::new(&[]), Config::default())?;
    let wire = [0x01, 0x02, b'a', 0xe2, 0x80, 0x03, 0x82, 0xac, b'b'];
    let mut joined = [0u8; 8];
    let (mut len, mut fins) = (0, 0);
    feed(&mut conn, &wire, |e| {
        let Event::Fragment {
            kind: DataKind::Text,
            data,
            fin,
        } = e
        else {
            return Err("not a text fragment");
        };
        joined[len..len + data.len()].copy_from_slice(data);
        len += data.len();
        fins += usize::from(fin);
        Ok(())
    })?;
    ensure(
        fins == 1 && &joined[..len] == "a€b".as_bytes(),
        "a€b not delivered",
    )?;

    const PARTS: &[Part] = &[
        Part::Bytes(&[0x01, 0x03, b'x', 0xf0, 0x9f]),
        Part::Bytes(&[0x80, 0x03, 0x98, 0x80, b'y']),
        Part::Bytes(&[0x88, 0x02, 0x03, 0xe8]),
    ];
    let mut s = session::<64>(false, 64)?;
    let mut peer = Peer::new(PARTS);
    let mut got = false;
    drive(&mut s, &mut peer, 1, |e| {
        if let SessionEvent::Message(m) = e {
            got = m == Message::Text("x😀y");
            ensure(got, "x😀y: wrong message")?;
        }
        Ok(())
    })?;
    ensure(got, "x😀y: no message")
}

/// Fails fast with 1007: F4 ends a fragment (a valid start), the next
/// fragment of 100 bytes starts with 90 (past U+10FFFF) and only that byte
/// has arrived; and C0 (never valid) arrives as the third byte of a 256-byte
/// text frame.
pub(crate) fn invalid_fails_fast() -> Check {
    let mut conn = open::<512>(ScriptRng::new(&[]), Config::default())?;
    let wire = [0x01, 0x01, 0xf4, 0x80, 0x64, 0x90];
    let mut first = false;
    let (_, err) = feed_until_error(&mut conn, &wire, &mut |e| {
        first = matches!(
            e,
            Event::Fragment {
                data: [0xf4],
                fin: false,
                ..
            }
        );
        ensure(first, "F4 alone is a valid start but was not delivered")
    })?;
    ensure(first, "no first fragment")?;
    ensure(
        err == Some(Error::Protocol(ProtocolError::InvalidUtf8)),
        "F4 | 90 across fragments was not refused at the 90",
    )?;
    ensure(
        crate::peer::close_code_on_wire(conn.transmit()) == Some(1007),
        "no close frame with 1007 (across fragments)",
    )?;

    let mut conn = open::<512>(ScriptRng::new(&[]), Config::default())?;
    let wire = [0x81, 0x7e, 0x01, 0x00, b'a', b'b', 0xc0];
    let (_, err) = feed_until_error(&mut conn, &wire, &mut |e| {
        ensure(
            matches!(e, Event::Fragment { data: b"ab", .. }),
            "unexpected event before C0",
        )
    })?;
    ensure(
        err == Some(Error::Protocol(ProtocolError::InvalidUtf8)),
        "C0 inside a frame was not refused before the frame's end",
    )?;
    ensure(
        crate::peer::close_code_on_wire(conn.transmit()) == Some(1007),
        "no close frame with 1007 (inside a frame)",
    )
}
