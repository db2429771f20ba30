//! Shared helpers for the `ws-proto` integration tests: a seeded random source,
//! a connection opened through a real handshake, a builder for the server's
//! (unmasked) frames, a parser for the client's (masked) frames as they appear in
//! `transmit()`, and a feed driver that honours the `recv` caller contract (keep
//! the unconsumed input, append the next piece) and copies events into owned
//! values so tests can compare them.
#![allow(dead_code)]

use ws_proto::frame::{FrameHeader, OpCode};
use ws_proto::handshake::{accept_key, KEY_LEN};
use ws_proto::mask::apply_mask;
use ws_proto::{
    Assembler, Config, Connection, DataKind, Error, Event, HandshakeOptions, Instant, Message,
    Random, RandomError, State, Url,
};

/// The URL every test connects to.
pub(crate) const URL: &str = "ws://example.com/chat";

/// Outbound queue size used when a test does not care.
pub(crate) const TX_CAP: usize = 4096;

/// A deterministic xorshift64* source, seeded per test. The state is never
/// zero, so it never degenerates into an all-zero stream.
#[derive(Clone, Debug)]
pub(crate) struct TestRng {
    state: u64,
    /// Bytes handed out first, verbatim (e.g. the RFC 6455 sample nonce).
    prefix: Vec<u8>,
    /// How many more bytes it produces before failing (`None`: forever).
    budget: Option<usize>,
}

impl TestRng {
    /// A source seeded with `seed` (any value, zero included).
    pub(crate) fn new(seed: u64) -> Self {
        // splitmix64 of the seed, forced odd: never zero.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        TestRng {
            state: z | 1,
            prefix: Vec::new(),
            budget: None,
        }
    }

    /// A source that fails once it has produced `n` bytes.
    pub(crate) fn failing_after(seed: u64, n: usize) -> Self {
        let mut r = TestRng::new(seed);
        r.budget = Some(n);
        r
    }

    /// A source that first yields `prefix`, then seeded bytes.
    pub(crate) fn with_prefix(seed: u64, prefix: &[u8]) -> Self {
        let mut r = TestRng::new(seed);
        r.prefix = prefix.to_vec();
        r
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl Random for TestRng {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        if let Some(left) = self.budget.as_mut() {
            *left = left.checked_sub(buf.len()).ok_or(RandomError)?;
        }
        for b in buf.iter_mut() {
            *b = if self.prefix.is_empty() {
                self.next_u64().to_le_bytes()[3]
            } else {
                self.prefix.remove(0)
            };
        }
        Ok(())
    }
}

/// The connection type the tests use: owned, growable-free storage.
pub(crate) type Conn = Connection<TestRng, Vec<u8>>;

/// A fresh connection (handshake request queued) with a queue of `tx_cap` bytes.
pub(crate) fn connecting(seed: u64, config: Config, tx_cap: usize) -> Conn {
    connecting_with(
        TestRng::new(seed),
        config,
        tx_cap,
        &HandshakeOptions::default(),
    )
}

/// As [`connecting`], with an explicit random source and options.
pub(crate) fn connecting_with(
    rng: TestRng,
    config: Config,
    tx_cap: usize,
    opts: &HandshakeOptions<'_>,
) -> Conn {
    let url = Url::parse(URL).unwrap();
    let conn = Connection::new(rng, vec![0u8; tx_cap], &url, opts, config, Instant::ZERO).unwrap();
    assert_eq!(conn.state(), State::Connecting);
    conn
}

/// Takes the handshake request out of `transmit()` and returns it with the
/// `Sec-WebSocket-Key` it carries.
pub(crate) fn take_request(conn: &mut Conn) -> (String, [u8; KEY_LEN]) {
    let request = String::from_utf8(conn.transmit().to_vec()).unwrap();
    conn.advance_transmit(request.len());
    assert!(conn.transmit().is_empty());
    assert!(request.starts_with("GET /chat HTTP/1.1\r\n"), "{request}");
    assert!(request.ends_with("\r\n\r\n"), "{request}");
    let line = request
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    let key: [u8; KEY_LEN] = line.as_bytes().try_into().unwrap();
    (request, key)
}

/// A valid `101` response for `key`, with `extra` header lines (each ending
/// in CRLF) before the blank line.
pub(crate) fn response_for(key: &[u8], extra: &str) -> Vec<u8> {
    let mut r = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                  Connection: Upgrade\r\nSec-WebSocket-Accept: "
        .to_vec();
    r.extend_from_slice(&accept_key(key));
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(extra.as_bytes());
    r.extend_from_slice(b"\r\n");
    r
}

/// A connection that completed the handshake: the request was read from
/// `transmit()`, a valid response fed, and `Event::Connected` checked.
pub(crate) fn open_with(seed: u64, config: Config, tx_cap: usize) -> Conn {
    let mut conn = connecting(seed, config, tx_cap);
    let (_, key) = take_request(&mut conn);
    let resp = response_for(&key, "");
    let r = conn.recv(Instant::ZERO, &resp).unwrap();
    assert_eq!(r.event(), Some(Event::Connected { protocol: None }));
    assert_eq!(r.consumed, resp.len());
    assert_eq!(conn.state(), State::Open);
    assert!(conn.transmit().is_empty());
    conn
}

/// [`open_with`] with the default config and queue size.
pub(crate) fn open(seed: u64) -> Conn {
    open_with(seed, Config::default(), TX_CAP)
}

// ----- server frames -------------------------------------------------------

/// How a server frame encodes its payload length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Len {
    /// The shortest form.
    Minimal,
    /// Always the 16-bit form (126).
    Ext16,
    /// Always the 64-bit form (127).
    Ext64,
}

/// Builds one server frame byte by byte (not with the crate's encoder, so
/// the tests do not trust what they test).
#[derive(Clone, Debug)]
pub(crate) struct ServerFrame {
    /// FIN.
    pub(crate) fin: bool,
    /// RSV1-3 as `0b0rrr`.
    pub(crate) rsv: u8,
    /// The raw 4-bit opcode (reserved ones allowed).
    pub(crate) opcode: u8,
    /// A mask key: servers must not mask, but tests send one anyway.
    pub(crate) mask: Option<[u8; 4]>,
    /// The length encoding.
    pub(crate) len: Len,
    /// The payload, unmasked.
    pub(crate) payload: Vec<u8>,
}

impl ServerFrame {
    /// A final, unmasked frame with the minimal length encoding.
    pub(crate) fn new(opcode: u8, payload: &[u8]) -> Self {
        ServerFrame {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            len: Len::Minimal,
            payload: payload.to_vec(),
        }
    }

    /// Sets FIN.
    pub(crate) fn fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    /// Sets the RSV bits.
    pub(crate) fn rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv;
        self
    }

    /// Masks the frame.
    pub(crate) fn masked(mut self, key: [u8; 4]) -> Self {
        self.mask = Some(key);
        self
    }

    /// Sets the length encoding.
    pub(crate) fn len_form(mut self, len: Len) -> Self {
        self.len = len;
        self
    }

    /// The header alone.
    pub(crate) fn header(&self) -> Vec<u8> {
        let n = self.payload.len() as u64;
        let mut out =
            vec![(u8::from(self.fin) << 7) | ((self.rsv & 7) << 4) | (self.opcode & 0x0f)];
        let m = if self.mask.is_some() { 0x80 } else { 0 };
        let form = match self.len {
            Len::Minimal if n < 126 => Len::Minimal,
            Len::Minimal if n <= 0xffff => Len::Ext16,
            Len::Minimal => Len::Ext64,
            f => f,
        };
        match form {
            Len::Minimal => out.push(m | n as u8),
            Len::Ext16 => {
                out.push(m | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            Len::Ext64 => {
                out.push(m | 127);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        if let Some(k) = self.mask {
            out.extend_from_slice(&k);
        }
        out
    }

    /// The whole frame.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        let start = out.len();
        out.extend_from_slice(&self.payload);
        if let Some(k) = self.mask {
            for (i, b) in out[start..].iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        out
    }
}

/// A final unmasked server frame with opcode `op` and `payload`.
pub(crate) fn frame(op: u8, payload: &[u8]) -> Vec<u8> {
    ServerFrame::new(op, payload).bytes()
}

/// A server close frame with `code` and `reason`.
pub(crate) fn close_frame(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    frame(0x8, &p)
}

/// Opcodes, for readability.
pub(crate) const CONT: u8 = 0x0;
/// Text.
pub(crate) const TEXT: u8 = 0x1;
/// Binary.
pub(crate) const BIN: u8 = 0x2;
/// Close.
pub(crate) const CLOSE: u8 = 0x8;
/// Ping.
pub(crate) const PING: u8 = 0x9;
/// Pong.
pub(crate) const PONG: u8 = 0xa;

// ----- client frames -------------------------------------------------------

/// A frame the client put on the wire, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientFrame {
    /// The opcode.
    pub(crate) opcode: OpCode,
    /// FIN.
    pub(crate) fin: bool,
    /// The payload after unmasking.
    pub(crate) payload: Vec<u8>,
    /// The mask key it carried.
    pub(crate) key: [u8; 4],
}

impl ClientFrame {
    /// The close code of a close frame (`None` for an empty payload).
    pub(crate) fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, OpCode::Close);
        match self.payload.as_slice() {
            [] => None,
            [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
            [_] => panic!("client sent a 1-byte close payload"),
        }
    }
}

/// Parses whole client frames from `bytes`; returns them and how many bytes
/// they used (a torn frame at the end is left unparsed). Every frame must be
/// masked and have no RSV bits.
pub(crate) fn parse_client_frames(bytes: &[u8]) -> (Vec<ClientFrame>, usize) {
    let mut frames = Vec::new();
    let mut at = 0;
    while let Some((h, hl)) = FrameHeader::parse(&bytes[at..]).unwrap() {
        let key = h.mask.expect("client frames are always masked");
        assert_eq!(h.rsv, 0, "client set RSV bits");
        let len = usize::try_from(h.payload_len).unwrap();
        let Some(body) = bytes.get(at + hl..at + hl + len) else {
            break;
        };
        let mut payload = body.to_vec();
        apply_mask(&mut payload, key, 0);
        frames.push(ClientFrame {
            opcode: h.opcode,
            fin: h.fin,
            payload,
            key,
        });
        at += hl + len;
    }
    (frames, at)
}

/// Drains `transmit()` and parses it: everything pending must be whole frames.
pub(crate) fn drain(conn: &mut Conn) -> Vec<ClientFrame> {
    let bytes = conn.transmit().to_vec();
    conn.advance_transmit(bytes.len());
    assert!(conn.transmit().is_empty());
    let (frames, used) = parse_client_frames(&bytes);
    assert_eq!(used, bytes.len(), "transmit() ended with a torn frame");
    frames
}

/// Drains `transmit()` and checks it holds exactly one close frame, with `code`.
pub(crate) fn expect_close_on_wire(conn: &mut Conn, code: Option<u16>) {
    let frames = drain(conn);
    assert_eq!(frames.len(), 1, "expected one close frame, got {frames:?}");
    assert_eq!(frames[0].opcode, OpCode::Close);
    assert!(frames[0].fin);
    assert_eq!(frames[0].close_code(), code);
}

// ----- events --------------------------------------------------------------

/// An [`Event`] copied into owned values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ev {
    /// `Connected`.
    Connected(Option<String>),
    /// `Text`.
    Text(String),
    /// `Binary`.
    Binary(Vec<u8>),
    /// `Fragment`.
    Fragment(DataKind, Vec<u8>, bool),
    /// `Ping`.
    Ping(Vec<u8>),
    /// `Pong`.
    Pong(Vec<u8>),
    /// `Closed`.
    Closed(Option<u16>, String),
    /// `Inflated` (its bytes are in the connection).
    Inflated(DataKind, bool),
}

impl From<Event<'_>> for Ev {
    fn from(e: Event<'_>) -> Self {
        match e {
            Event::Connected { protocol } => Ev::Connected(protocol.map(str::to_owned)),
            Event::Text(t) => Ev::Text(t.to_owned()),
            Event::Binary(b) => Ev::Binary(b.to_vec()),
            Event::Fragment { kind, data, fin } => Ev::Fragment(kind, data.to_vec(), fin),
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::Closed(c) => Ev::Closed(c.code, c.reason.to_owned()),
            Event::Inflated { kind, fin } => Ev::Inflated(kind, fin),
            other => panic!("an event these tests do not know: {other:?}"),
        }
    }
}

/// A whole message or a control event, owned: what a caller that assembles
/// messages sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Msg {
    /// The handshake completed.
    Connected,
    /// A whole text message.
    Text(String),
    /// A whole binary message.
    Binary(Vec<u8>),
    /// A ping.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The server's close.
    Closed(Option<u16>, String),
}

/// What feeding produced: the events, and the error that ended it, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Events, in order.
    pub(crate) events: Vec<Ev>,
    /// The error, if one ended the connection.
    pub(crate) error: Option<Error>,
}

/// Keeps the unconsumed input between `recv` calls, as the caller contract
/// requires, and appends each new piece to it.
#[derive(Debug)]
pub(crate) struct Feeder {
    /// Input not consumed yet.
    pub(crate) pending: Vec<u8>,
    /// The time passed to `recv`.
    pub(crate) now: Instant,
}

impl Default for Feeder {
    fn default() -> Self {
        Feeder::new()
    }
}

impl Feeder {
    /// An empty feeder at time zero.
    pub(crate) fn new() -> Self {
        Feeder {
            pending: Vec::new(),
            now: Instant::ZERO,
        }
    }

    /// Appends `piece` and calls `recv` until it returns no event, handing
    /// every event to `f`. Returns the error that ended the connection, if any.
    pub(crate) fn push_with(
        &mut self,
        conn: &mut Conn,
        piece: &[u8],
        mut f: impl FnMut(Event<'_>),
    ) -> Result<(), Error> {
        self.pending.extend_from_slice(piece);
        // Every event consumes at least one byte, so this bounds the loop.
        for _ in 0..self.pending.len() + 2 {
            let r = conn.recv(self.now, &self.pending)?;
            assert!(r.consumed <= self.pending.len());
            let consumed = r.consumed;
            let done = r.event().is_none();
            if let Some(e) = r.event() {
                f(e);
            }
            self.pending.drain(..consumed);
            if done {
                return Ok(());
            }
        }
        panic!("recv kept returning events without consuming input");
    }

    /// Appends `piece`, collects the events as owned values.
    pub(crate) fn push(&mut self, conn: &mut Conn, piece: &[u8]) -> Outcome {
        let mut events = Vec::new();
        let error = self
            .push_with(conn, piece, |e| events.push(Ev::from(e)))
            .err();
        Outcome { events, error }
    }

    /// Pushes each piece in turn; stops at the first error.
    pub(crate) fn push_all<'a>(
        &mut self,
        conn: &mut Conn,
        pieces: impl IntoIterator<Item = &'a [u8]>,
    ) -> Outcome {
        let mut out = Outcome::default();
        for p in pieces {
            let o = self.push(conn, p);
            out.events.extend(o.events);
            if o.error.is_some() {
                out.error = o.error;
                break;
            }
        }
        out
    }
}

/// Feeds `bytes` whole and returns the events and any error.
pub(crate) fn feed(conn: &mut Conn, bytes: &[u8]) -> Outcome {
    Feeder::new().push(conn, bytes)
}

/// Feeds `bytes` split at `cuts` (sorted, clamped) through an [`Assembler`]
/// of `asm_cap` bytes; returns whole messages and control events, and the
/// error that ended the connection, if any.
pub(crate) fn feed_assembled(
    conn: &mut Conn,
    bytes: &[u8],
    cuts: &[usize],
    asm_cap: usize,
) -> (Vec<Msg>, Option<Error>) {
    let mut asm = Assembler::new(vec![0u8; asm_cap]);
    let mut out = Vec::new();
    let mut feeder = Feeder::new();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    let mut prev = 0;
    for c in cuts {
        let r = feeder.push_with(conn, &bytes[prev..c], |e| {
            let control = match e {
                Event::Connected { .. } => Some(Msg::Connected),
                Event::Ping(p) => Some(Msg::Ping(p.to_vec())),
                Event::Pong(p) => Some(Msg::Pong(p.to_vec())),
                Event::Closed(c) => Some(Msg::Closed(c.code, c.reason.to_owned())),
                _ => None,
            };
            if let Some(m) = control {
                out.push(m);
                return;
            }
            match asm.accept(e).unwrap() {
                Some(Message::Text(t)) => out.push(Msg::Text(t.to_owned())),
                Some(Message::Binary(b)) => out.push(Msg::Binary(b.to_vec())),
                None => {}
            }
        });
        prev = c;
        if let Err(e) = r {
            return (out, Some(e));
        }
    }
    (out, None)
}

/// Joins a list of owned events into whole messages and control events.
pub(crate) fn assemble(events: &[Ev]) -> Vec<Msg> {
    let mut out = Vec::new();
    let mut partial: Option<(DataKind, Vec<u8>)> = None;
    for e in events {
        match e {
            Ev::Connected(_) => out.push(Msg::Connected),
            Ev::Text(t) => out.push(Msg::Text(t.clone())),
            Ev::Binary(b) => out.push(Msg::Binary(b.clone())),
            Ev::Ping(p) => out.push(Msg::Ping(p.clone())),
            Ev::Pong(p) => out.push(Msg::Pong(p.clone())),
            Ev::Closed(c, r) => out.push(Msg::Closed(*c, r.clone())),
            Ev::Inflated(..) => panic!("inflated bytes are read from the connection"),
            Ev::Fragment(kind, data, fin) => {
                let (k, buf) = partial.get_or_insert_with(|| (*kind, Vec::new()));
                assert_eq!(k, kind, "fragment kind changed mid-message");
                buf.extend_from_slice(data);
                if *fin {
                    let (k, buf) = partial.take().unwrap();
                    out.push(match k {
                        DataKind::Text => Msg::Text(String::from_utf8(buf).unwrap()),
                        DataKind::Binary => Msg::Binary(buf),
                    });
                }
            }
        }
    }
    assert!(partial.is_none(), "a message was left unfinished");
    out
}

/// A config with a small message limit.
pub(crate) fn config_max(max_message_size: u64) -> Config {
    Config {
        max_message_size,
        ..Config::default()
    }
}
