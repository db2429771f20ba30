//! The other end of the checks: a scripted random source, a server that
//! answers the handshake and then sends a list of parts (literal bytes, frame
//! headers, payloads generated as they are read, so 64 KiB messages need no
//! 64 KiB of memory), and helpers that open a `Connection` and feed it.

use ws_proto::frame::{FrameHeader, OpCode};
use ws_proto::handshake::{accept_key, KEY_LEN};
use ws_proto::Url;
use ws_proto::{
    Config, Connection, Event, HandshakeOptions, Instant, Progress, Random, RandomError,
};

/// What a check returns: `Err` names what went wrong.
pub(crate) type Check = Result<(), &'static str>;

/// `Err(what)` unless `cond`.
pub(crate) fn ensure(cond: bool, what: &'static str) -> Check {
    if cond {
        Ok(())
    } else {
        Err(what)
    }
}

/// The URL every check connects to.
pub(crate) const URL: &str = "ws://example.com/chat";

/// A random source that hands out `script` first, then xorshift32 bytes.
/// Scripted bytes reproduce the RFC's nonce and mask keys; this is no source
/// for real keys (RFC 6455 section 5.3).
pub(crate) struct ScriptRng {
    script: &'static [u8],
    state: u32,
}

impl ScriptRng {
    /// Yields `script`, then bytes from a nonzero xorshift32 state.
    pub(crate) const fn new(script: &'static [u8]) -> Self {
        ScriptRng {
            script,
            state: 0x2545_f491,
        }
    }
}

impl Random for ScriptRng {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        for b in buf {
            *b = match self.script.split_first() {
                Some((&first, rest)) => {
                    self.script = rest;
                    first
                }
                None => {
                    self.state ^= self.state << 13;
                    self.state ^= self.state >> 17;
                    self.state ^= self.state << 5;
                    self.state.to_le_bytes()[1]
                }
            };
        }
        Ok(())
    }
}

/// The generated payloads.
#[derive(Clone, Copy)]
pub(crate) enum Pattern {
    /// Bytes `(i * 7 + i / 251) as u8`.
    Binary,
    /// "€" (3 bytes, so every split point inside it occurs) up to the last
    /// whole one before 65,536 bytes, then "a": 65,536 bytes of UTF-8.
    Euro,
}

impl Pattern {
    /// Byte `i` of the message.
    pub(crate) fn byte(self, i: usize) -> u8 {
        match self {
            Pattern::Binary => (i * 7 + i / 251) as u8,
            Pattern::Euro if i >= 65_535 => b'a',
            Pattern::Euro => "€".as_bytes()[i % 3],
        }
    }
}

/// One part of what the server sends after its handshake response.
#[derive(Clone, Copy)]
pub(crate) enum Part {
    /// These bytes.
    Bytes(&'static [u8]),
    /// An unmasked frame header.
    Header { fin: bool, opcode: OpCode, len: u64 },
    /// Bytes `from..from + len` of a generated message.
    Payload {
        pattern: Pattern,
        from: usize,
        len: usize,
    },
}

impl Part {
    fn len(&self) -> usize {
        match *self {
            Part::Bytes(b) => b.len(),
            Part::Header { len, .. } => ws_proto::frame::header_len(len, false),
            Part::Payload { len, .. } => len,
        }
    }

    fn byte(&self, i: usize) -> u8 {
        match *self {
            Part::Bytes(b) => b[i],
            Part::Header { fin, opcode, len } => {
                let h = FrameHeader {
                    fin,
                    rsv: 0,
                    opcode,
                    mask: None,
                    payload_len: len,
                };
                let mut out = [0u8; ws_proto::frame::MAX_HEADER_LEN];
                let _ = h.encode(&mut out);
                out[i]
            }
            Part::Payload { pattern, from, .. } => pattern.byte(from + i),
        }
    }
}

/// A server: reads the client's request, answers it with a 101 response
/// carrying the right `Sec-WebSocket-Accept`, then sends `parts`.
pub(crate) struct Peer<'p> {
    head: [u8; 160],
    head_len: usize,
    /// Bytes of the response already given.
    head_at: usize,
    parts: &'p [Part],
    part: usize,
    at: usize,
}

impl<'p> Peer<'p> {
    /// A server that will send `parts` after its response.
    pub(crate) fn new(parts: &'p [Part]) -> Self {
        Peer {
            head: [0; 160],
            head_len: 0,
            head_at: 0,
            parts,
            part: 0,
            at: 0,
        }
    }

    /// Takes client bytes (the first ones carry the request); all are taken.
    pub(crate) fn take(&mut self, data: &[u8]) -> usize {
        if self.head_len == 0 {
            if let Some(key) = find_key(data) {
                self.head_len = response(&mut self.head, key);
            }
        }
        data.len()
    }

    /// Gives server bytes, at most `buf.len()`; 0 until the request arrived
    /// and once everything was sent.
    pub(crate) fn give(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        let head = &self.head[self.head_at..self.head_len];
        let k = head.len().min(buf.len());
        buf[..k].copy_from_slice(&head[..k]);
        self.head_at += k;
        n += k;
        if self.head_len == 0 || self.head_at < self.head_len {
            return n;
        }
        while n < buf.len() {
            let Some(part) = self.parts.get(self.part) else {
                break;
            };
            if self.at == part.len() {
                self.part += 1;
                self.at = 0;
                continue;
            }
            buf[n] = part.byte(self.at);
            self.at += 1;
            n += 1;
        }
        n
    }

    /// Everything was given.
    pub(crate) fn done(&self) -> bool {
        self.head_len > 0 && self.head_at == self.head_len && self.part >= self.parts.len()
    }
}

/// The `Sec-WebSocket-Key` value in a request.
pub(crate) fn find_key(request: &[u8]) -> Option<&[u8]> {
    const NAME: &[u8] = b"\r\nSec-WebSocket-Key: ";
    let at = request.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
    request.get(at..at + KEY_LEN)
}

/// Writes the server's 101 response for `key` into `out`; returns its length.
pub(crate) fn response(out: &mut [u8; 160], key: &[u8]) -> usize {
    let accept = accept_key(key);
    let mut n = 0;
    for piece in [
        &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "[..],
        &accept[..],
        b"\r\n\r\n",
    ] {
        out[n..n + piece.len()].copy_from_slice(piece);
        n += piece.len();
    }
    n
}

/// A connection to [`URL`] through a real handshake: its request taken, the
/// server's response fed, `Connected` reported.
pub(crate) fn open<const TX: usize>(
    rng: ScriptRng,
    config: Config,
) -> Result<Connection<ScriptRng, [u8; TX]>, &'static str> {
    let url = Url::parse(URL).map_err(|_| "URL refused")?;
    let mut conn = Connection::new(
        rng,
        [0u8; TX],
        &url,
        &HandshakeOptions::default(),
        config,
        Instant::ZERO,
    )
    .map_err(|_| "Connection::new failed")?;
    let mut head = [0u8; 160];
    let key = find_key(conn.transmit()).ok_or("no Sec-WebSocket-Key in the request")?;
    let len = response(&mut head, key);
    let sent = conn.transmit().len();
    conn.advance_transmit(sent);
    let mut connected = false;
    feed(&mut conn, &head[..len], |e| {
        connected = e == Event::Connected { protocol: None };
        ensure(connected, "the handshake did not report Connected")
    })?;
    ensure(connected, "no event for the 101 response")?;
    Ok(conn)
}

/// Feeds `input` to `conn` as one read, handing each event to `on_event`;
/// returns how many bytes were left unconsumed (a partial frame). A `recv`
/// error is a failure here; checks that expect one use [`feed_until_error`].
pub(crate) fn feed<R: Random, const TX: usize>(
    conn: &mut Connection<R, [u8; TX]>,
    input: &[u8],
    mut on_event: impl FnMut(Event<'_>) -> Check,
) -> Result<usize, &'static str> {
    match feed_until_error(conn, input, &mut on_event)? {
        (left, None) => Ok(left),
        (_, Some(_)) => Err("recv failed"),
    }
}

/// Like [`feed`], but a `recv` error ends the feed and is returned.
pub(crate) fn feed_until_error<R: Random, const TX: usize>(
    conn: &mut Connection<R, [u8; TX]>,
    input: &[u8],
    on_event: &mut impl FnMut(Event<'_>) -> Check,
) -> Result<(usize, Option<ws_proto::Error>), &'static str> {
    let mut at = 0;
    // Every event consumes at least one byte, so this is bounded by the input.
    for _ in 0..=input.len() {
        let r = match conn.recv(Instant::ZERO, &input[at..]) {
            Ok(r) => r,
            Err(e) => return Ok((input.len() - at, Some(e))),
        };
        at += r.consumed;
        match r.progress {
            Progress::Event(e) => on_event(e)?,
            Progress::NeedInput => return Ok((input.len() - at, None)),
            Progress::NeedTransmit => return Err("recv asked to transmit first"),
        }
    }
    Err("recv made no progress")
}

/// The close code of the first frame in `wire` if it is a masked close frame.
pub(crate) fn close_code_on_wire(wire: &[u8]) -> Option<u16> {
    let (&[b0, b1], rest) = wire.split_first_chunk::<2>()?;
    if b0 != 0x88 || b1 & 0x80 == 0 || b1 & 0x7f < 2 {
        return None;
    }
    let (key, payload) = rest.split_first_chunk::<4>()?;
    let mut code = [*payload.first()?, *payload.get(1)?];
    ws_proto::mask::apply_mask(&mut code, *key, 0);
    Some(u16::from_be_bytes(code))
}
