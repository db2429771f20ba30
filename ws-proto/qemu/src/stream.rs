//! Messages larger than the receive buffer, through a `Session` as a
//! transport drives it: 64 KiB messages streamed through a 1 KiB buffer, and
//! a message over `max_message_size` refused with 1009 as soon as its header
//! says so.

use ws_proto::frame::OpCode;
use ws_proto::{
    Config, Connection, DataKind, Disconnect, Error, HandshakeOptions, Instant, Message,
    ProtocolError, Session, SessionEvent, Url,
};

use crate::peer::{ensure, Check, Part, Pattern, Peer, ScriptRng, URL};

/// The receive buffer of every session here.
pub(crate) const RX: usize = 1024;

/// A session with a 512-byte outbound queue, an [`RX`] receive buffer and an
/// assembler of `A` bytes.
pub(crate) type Sess<const A: usize> = Session<ScriptRng, [u8; 512], [u8; RX], [u8; A]>;

/// A session connecting to [`URL`] that streams messages as pieces
/// (`streaming`) or joins them whole, with `max_message_size` `max`.
pub(crate) fn session<const A: usize>(streaming: bool, max: u64) -> Result<Sess<A>, &'static str> {
    let url = Url::parse(URL).map_err(|_| "URL refused")?;
    let config = Config {
        max_message_size: max,
        ..Config::default()
    };
    let conn = Connection::new(
        ScriptRng::new(&[]),
        [0u8; 512],
        &url,
        &HandshakeOptions::default(),
        config,
        Instant::ZERO,
    )
    .map_err(|_| "Connection::new failed")?;
    let s = if streaming {
        Session::streaming(conn, [0u8; RX], [0u8; A])
    } else {
        Session::new(conn, [0u8; RX], [0u8; A])
    };
    s.map_err(|_| "Session refused its storage")
}

/// Runs `s` against `peer` as a transport would (write, read at most
/// `read_max` bytes, poll every event), handing each event to `on_event`,
/// until the session reports `Closed`.
pub(crate) fn drive<const A: usize>(
    s: &mut Sess<A>,
    peer: &mut Peer<'_>,
    read_max: usize,
    mut on_event: impl FnMut(SessionEvent<'_>) -> Check,
) -> Check {
    // 64 KiB messages a byte at a time would take 2^17 rounds.
    for _ in 0..300_000 {
        let n = peer.take(s.transmit());
        s.advance_transmit(n);
        let buf = s.read_buf();
        let max = buf.len().min(read_max);
        let n = peer.give(&mut buf[..max]);
        s.commit_read(n);
        if n == 0 && peer.done() {
            s.handle_eof();
        }
        while let Some(e) = s.poll_event(Instant::ZERO) {
            let end = matches!(e, SessionEvent::Closed(_));
            on_event(e)?;
            if end {
                return Ok(());
            }
        }
    }
    Err("the session did not end")
}

/// RFC 6455 section 5.7's 64 KiB binary frame, then a 64 KiB text message in
/// four 16 KiB fragments whose edges split "€"s, then the server's close:
/// through a streaming session with a 1 KiB receive buffer, every byte
/// checked, no piece over 1 KiB, then a clean close with 1000.
pub(crate) fn sixty_four_kib() -> Check {
    const K16: usize = 16 << 10;
    const K64: u64 = 64 << 10;
    const fn frag(first: bool, fin: bool) -> Part {
        let opcode = if first {
            OpCode::Text
        } else {
            OpCode::Continuation
        };
        Part::Header {
            fin,
            opcode,
            len: K16 as u64,
        }
    }
    const fn euro(i: usize) -> Part {
        Part::Payload {
            pattern: Pattern::Euro,
            from: i * K16,
            len: K16,
        }
    }
    const PARTS: &[Part] = &[
        Part::Bytes(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]),
        Part::Payload {
            pattern: Pattern::Binary,
            from: 0,
            len: 64 << 10,
        },
        frag(true, false),
        euro(0),
        frag(false, false),
        euro(1),
        frag(false, false),
        euro(2),
        frag(false, true),
        euro(3),
        Part::Bytes(&[0x88, 0x02, 0x03, 0xe8]),
    ];
    let mut s = session::<0>(true, K64)?;
    let mut peer = Peer::new(PARTS);
    // Message index (0 binary, 1 text), offset in it, pieces, largest piece.
    let (mut msg, mut at, mut pieces, mut largest) = (0usize, 0usize, 0u32, 0usize);
    let mut clean = false;
    drive(&mut s, &mut peer, RX, |e| {
        let (kind, data, fin) = match e {
            SessionEvent::Connected { .. } => return Ok(()),
            SessionEvent::Fragment { kind, data, fin } => (kind, data, fin),
            SessionEvent::Message(Message::Binary(b)) => (DataKind::Binary, b, true),
            SessionEvent::Message(Message::Text(t)) => (DataKind::Text, t.as_bytes(), true),
            SessionEvent::Closed(d) => {
                clean = matches!(d, Disconnect::Clean(c) if c.code == Some(1000));
                return Ok(());
            }
            _ => return Err("unexpected event"),
        };
        let (want, pattern) = match msg {
            0 => (DataKind::Binary, Pattern::Binary),
            1 => (DataKind::Text, Pattern::Euro),
            _ => return Err("a third message"),
        };
        ensure(kind == want, "wrong message kind")?;
        for (i, &b) in data.iter().enumerate() {
            ensure(b == pattern.byte(at + i), "a byte differs")?;
        }
        at += data.len();
        pieces += 1;
        largest = largest.max(data.len());
        if fin {
            ensure(at == K64 as usize, "a message ended short of 64 KiB")?;
            msg += 1;
            at = 0;
        }
        Ok(())
    })?;
    ensure(msg == 2, "not both messages arrived")?;
    ensure(largest <= RX, "a piece larger than the receive buffer")?;
    ensure(clean, "no clean close with 1000")?;
    ensure(
        crate::peer::close_code_on_wire(s.transmit()) == Some(1000),
        "the server's close was not echoed",
    )?;
    crate::println!("     2 x 64 KiB in {pieces} pieces of at most {largest} B");
    Ok(())
}

/// With `max_message_size` 1 KiB: a 2 KiB binary frame is refused with 1009
/// before its payload has all arrived; a text message of two 600-byte
/// fragments is refused at the second fragment's header.
pub(crate) fn too_big() -> Check {
    const WHOLE: &[Part] = &[
        Part::Bytes(&[0x82, 0x7e, 0x08, 0x00]),
        Part::Payload {
            pattern: Pattern::Binary,
            from: 0,
            len: 2048,
        },
    ];
    const FRAGMENTED: &[Part] = &[
        Part::Bytes(&[0x01, 0x7e, 0x02, 0x58]),
        Part::Payload {
            pattern: Pattern::Euro,
            from: 0,
            len: 600,
        },
        Part::Bytes(&[0x80, 0x7e, 0x02, 0x58]),
        Part::Payload {
            pattern: Pattern::Euro,
            from: 600,
            len: 600,
        },
    ];
    for (parts, what) in [
        (WHOLE, "2 KiB frame not refused with 1009"),
        (FRAGMENTED, "2 x 600 B fragments not refused with 1009"),
    ] {
        let mut s = session::<RX>(false, RX as u64)?;
        let mut peer = Peer::new(parts);
        let mut refused = false;
        drive(&mut s, &mut peer, RX, |e| {
            refused = e
                == SessionEvent::Closed(Disconnect::Error(Error::Protocol(
                    ProtocolError::MessageTooBig,
                )));
            match e {
                SessionEvent::Connected { .. } | SessionEvent::Closed(_) => Ok(()),
                _ => Err("an event before the refusal"),
            }
        })?;
        ensure(refused, what)?;
        ensure(!peer.done(), "the refusal waited for the payload")?;
        ensure(
            crate::peer::close_code_on_wire(s.transmit()) == Some(1009),
            "no close frame with 1009",
        )?;
    }
    Ok(())
}
