//! `connection`: random sequences of operations on one `Connection`, checked
//! against a model of what it must write.
//!
//! Operations: the server's response (valid, wrong or partial) and frames
//! from a small generator or raw bytes; `send_text` / `send_binary` /
//! `send_fragment` / `ping` / `close` with random sizes and codes; the clock
//! moved by random steps with `handle_timeout`; partial and full transmits;
//! end of stream.
//!
//! Checked after every operation and every `recv`:
//! - the bytes the client wrote (sent + `transmit()`) are the request, then
//!   whole masked frames in order, with no partial frame at the end of the
//!   queue, and they are exactly the frames the model expects: every accepted
//!   send, a pong for each ping received while open, one close frame (ours, the
//!   echo of the server's code, or the failure's code), nothing after the
//!   close frame, valid to a strict server (`ClientStreamChecker`);
//! - `transmit()` never exceeds the queue's capacity;
//! - the state only moves forward (Connecting, Open, Closing, Closed);
//! - a refused command (Backpressure, TooLarge or any other `SendError`)
//!   leaves `transmit()` and the state unchanged; `can_send` predicts whether a
//!   whole message hits backpressure; the close frame always fits;
//! - timers fire exactly when `poll_timeout` said; once closed, `recv`
//!   swallows input and reports nothing; the assembler never refuses a piece;
//! - after a full transmit, pings whose pongs filled the queue are answered
//!   round by round until at most a partial frame is left unconsumed.
//!
//! `WS_FUZZ_DEBUG=1` prints each run's final state and frame kinds, to check
//! what a corpus reaches (`-runs=0 <corpus>`).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::close::is_valid_code;
use ws_proto::frame::{header_len, OpCode};
use ws_proto::handshake::accept_key;
use ws_proto::queue::CONTROL_RESERVE;
use ws_proto::{
    Assembler, Config, Connection, DataKind, Error, Event, Instant, SendError, State,
    MIN_RECV_BUFFER,
};
use ws_proto_fuzz::{
    close_payload, connecting, parse_client_frames, response_with_accept, server_frame,
    ClientStreamChecker, WireFrame, Xorshift,
};

const TX_CAPS: [usize; 6] = [262, 300, 400, 640, 1024, 4096];
const MAX_MSGS: [u64; 4] = [0, 125, 1000, 1 << 16];
const CODES: [u16; 8] = [1000, 1001, 1002, 1007, 1009, 4000, 1005, 999];
const MAX_RX: usize = 1 << 20;

#[derive(Arbitrary, Debug)]
struct Input {
    tx_cap: u8,
    max_msg: u8,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// The server's answer: 0 valid, 1 wrong accept, 2 status 404, 3 the
    /// first half of a valid one; then frames.
    Respond {
        kind: u8,
        frames: Vec<GenFrame>,
    },
    Frames(Vec<GenFrame>),
    Raw(Vec<u8>),
    SendText {
        len: u16,
        pattern: u8,
    },
    SendBinary {
        len: u16,
    },
    SendFragment {
        text: bool,
        len: u16,
        pattern: u8,
        fin: bool,
    },
    Ping {
        len: u8,
    },
    Close {
        code: u8,
        reason_len: u8,
    },
    Advance {
        ms: u16,
    },
    Transmit {
        n: u16,
    },
    TransmitAll,
    Eof,
}

#[derive(Arbitrary, Debug)]
struct GenFrame {
    opcode: u8,
    fin: bool,
    len: u16,
    pattern: u8,
}

/// `len` bytes in one of a few shapes: ASCII, multi-byte UTF-8 (cut at
/// `len`, so possibly mid code point), pseudo-random bytes.
fn payload(len: usize, pattern: u8) -> Vec<u8> {
    match pattern % 4 {
        0 => (0..len).map(|i| b'a' + (i % 26) as u8).collect(),
        1 => "é€😀".bytes().cycle().take(len).collect(),
        2 => {
            let mut x = u64::from(pattern) | 1 << 40;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        }
        _ => "€".bytes().cycle().take(len).collect(),
    }
}

/// Valid UTF-8 of at most `len` bytes.
fn text(len: usize, pattern: u8) -> String {
    let bytes = payload(len, pattern % 2 * 3);
    match std::str::from_utf8(&bytes) {
        Ok(s) => s.to_string(),
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()])
            .unwrap_or_default()
            .to_string(),
    }
}

impl GenFrame {
    fn encode(&self) -> Vec<u8> {
        let (op, len) = match self.opcode % 8 {
            0 => (0x0, usize::from(self.len) % 3000),
            1 => (0x1, usize::from(self.len) % 3000),
            2 => (0x2, usize::from(self.len) % 3000),
            3 => (0x9, usize::from(self.len) % 126),
            4 => (0xa, usize::from(self.len) % 126),
            5 => {
                let code = CODES[usize::from(self.pattern) % CODES.len()];
                let reason = payload(usize::from(self.len) % 20, self.pattern >> 3);
                return server_frame(0x8, true, &close_payload(code, &reason));
            }
            6 => (0x8, usize::from(self.len) % 3),
            _ => (self.opcode >> 3 & 0xf, usize::from(self.len) % 200),
        };
        server_frame(op, self.fin || op >= 8, &payload(len, self.pattern))
    }
}

fn rank(s: State) -> u8 {
    match s {
        State::Connecting => 0,
        State::Open => 1,
        State::Closing => 2,
        State::Closed => 3,
    }
}

struct Harness {
    conn: Connection<Xorshift, Vec<u8>>,
    cap: usize,
    now: Instant,
    request: Vec<u8>,
    response: Vec<u8>,
    rx: Vec<u8>,
    asm: Assembler<Vec<u8>>,
    /// Every byte handed to the "socket".
    sent: Vec<u8>,
    /// `sent[..cursor]` is the request and whole, checked frames.
    cursor: usize,
    /// The frames the client must write, in order; `matched` are on the wire.
    expected: Vec<WireFrame>,
    matched: usize,
    checker: ClientStreamChecker,
    state: State,
    /// A fragmented message is being sent.
    sending: Option<DataKind>,
}

impl Harness {
    fn expect(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        self.expected.push(WireFrame {
            opcode,
            fin,
            payload: payload.to_vec(),
        });
    }

    /// The checks that hold after anything.
    fn check(&mut self) {
        let state = self.conn.state();
        assert!(
            rank(state) >= rank(self.state),
            "state went back from {:?} to {state:?}",
            self.state
        );
        self.state = state;
        let pending = self.conn.transmit();
        assert!(pending.len() <= self.cap, "transmit() over capacity");
        assert_eq!(
            self.conn.is_finished(),
            state == State::Closed && pending.is_empty()
        );
        assert_eq!(
            self.conn.poll_timeout().is_some(),
            matches!(state, State::Connecting | State::Closing)
        );

        let mut view = self.sent[self.cursor..].to_vec();
        view.extend_from_slice(pending);
        // How much of `view` already went to the socket.
        let sent = self.sent.len() - self.cursor;
        let mut at = 0;
        if self.cursor == 0 {
            let n = view.len().min(self.request.len());
            assert_eq!(view[..n], self.request[..n], "the request was changed");
            if view.len() < self.request.len() {
                assert!(self.expected.is_empty(), "frames owed before the request");
                return;
            }
            at = self.request.len();
        }
        let (frames, used) = parse_client_frames(&view[at..]);
        assert_eq!(at + used, view.len(), "a partial frame in the queue");
        let brief = |fs: &[WireFrame]| -> Vec<(OpCode, bool, usize)> {
            fs.iter()
                .map(|f| (f.opcode, f.fin, f.payload.len()))
                .collect()
        };
        assert_eq!(
            brief(&frames),
            brief(&self.expected[self.matched..]),
            "the queue does not hold exactly the owed frames"
        );
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(
                f,
                &self.expected[self.matched + i],
                "frame {} differs",
                self.matched + i
            );
        }
        // Move past the request and the frames that are wholly sent: they are
        // checked once, in order, as a strict server would.
        if at <= sent {
            let mut commit = at;
            for f in &frames {
                let end = commit + header_len(f.payload.len() as u64, true) + f.payload.len();
                if end > sent {
                    break;
                }
                self.checker.check(f);
                self.matched += 1;
                commit = end;
            }
            self.cursor += commit;
        }
    }

    fn transmit(&mut self, n: usize) {
        let pending = self.conn.transmit();
        let n = n.min(pending.len());
        self.sent.extend_from_slice(&pending[..n]);
        self.conn.advance_transmit(n);
    }

    /// Calls `recv` until it needs more input.
    fn pump(&mut self) {
        let mut pos = 0;
        for _ in 0..100_000 {
            let before = self.conn.state();
            let input = &self.rx[pos..];
            let len = input.len();
            let result = self.conn.recv(self.now, input);
            if before == State::Closed {
                let r = result.expect("recv after close");
                assert_eq!((r.consumed, r.event()), (len, None));
            }
            match result {
                Err(e) => {
                    if let (Error::Protocol(p), State::Open) = (e, before) {
                        self.expect(OpCode::Close, true, &p.close_code().to_be_bytes());
                    }
                    if matches!(e, Error::Handshake(_) | Error::HandshakeTimeout) {
                        assert_eq!(before, State::Connecting);
                    }
                    assert_eq!(self.conn.state(), State::Closed);
                    pos = self.rx.len();
                    break;
                }
                Ok(r) => {
                    assert!(r.consumed <= len);
                    pos += r.consumed;
                    let Some(event) = r.event() else {
                        break;
                    };
                    let mut owed = None;
                    match event {
                        Event::Connected { protocol } => {
                            assert_eq!(before, State::Connecting);
                            assert_eq!(protocol, None);
                        }
                        Event::Ping(p) if before == State::Open => {
                            owed = Some((OpCode::Pong, p.to_vec()));
                        }
                        Event::Closed(c) => {
                            assert_eq!(self.conn.state(), State::Closed);
                            if before == State::Open {
                                let echo = c.code.map(|c| c.to_be_bytes().to_vec());
                                owed = Some((OpCode::Close, echo.unwrap_or_default()));
                            }
                        }
                        Event::Text(_) | Event::Binary(_) | Event::Fragment { .. } => {
                            if let Err(e) = self.asm.accept(event) {
                                panic!("assembler refused a piece: {e:?}");
                            }
                        }
                        Event::Ping(_) | Event::Pong(_) => {}
                        Event::Inflated { .. } => panic!("inflated without an offer"),
                        other => panic!("an event this target does not know: {other:?}"),
                    }
                    if let Some((op, p)) = owed {
                        self.expect(op, true, &p);
                    }
                }
            }
            self.check();
        }
        self.rx.drain(..pos);
        self.check();
    }

    fn feed(&mut self, bytes: &[u8]) {
        if self.rx.len() + bytes.len() <= MAX_RX {
            self.rx.extend_from_slice(bytes);
        }
        self.pump();
    }

    /// Runs a command; a refusal must leave the queue and state as they were.
    fn command(
        &mut self,
        state_checked_first: bool,
        op: impl FnOnce(&mut Connection<Xorshift, Vec<u8>>) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        let before = self.conn.transmit().to_vec();
        let state = self.conn.state();
        let r = op(&mut self.conn);
        if let Err(e) = r {
            assert_eq!(
                self.conn.transmit(),
                &before[..],
                "refused {e:?} changed the queue"
            );
            assert_eq!(self.conn.state(), state, "refused {e:?} changed the state");
            match state {
                _ if !state_checked_first => {}
                State::Connecting => assert_eq!(e, SendError::NotOpen),
                State::Closing | State::Closed => assert_eq!(e, SendError::Closed),
                State::Open => {}
            }
        }
        r
    }

    /// A whole data message (or a ping) of `len` payload bytes: accepted
    /// exactly when `can_send` says so.
    fn check_room(&self, r: Result<(), SendError>, could: bool, len: usize) {
        let frame = header_len(len as u64, true) + len;
        match r {
            Ok(()) => assert!(could, "accepted although can_send said no"),
            Err(SendError::TooLarge) => assert!(frame + CONTROL_RESERVE > self.cap),
            Err(SendError::Backpressure) => {
                assert!(!could);
                assert!(frame + CONTROL_RESERVE <= self.cap);
            }
            Err(_) => {}
        }
        if could && self.sending.is_none() {
            assert!(r.is_ok(), "refused {r:?} although can_send said yes");
        }
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Respond { kind, frames } => {
                let mut bytes = match kind % 4 {
                    0 => self.response.clone(),
                    1 => response_with_accept(&accept_key(b"AAAAAAAAAAAAAAAAAAAAAA==")),
                    2 => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                    _ => self.response[..self.response.len() / 2].to_vec(),
                };
                for f in frames {
                    bytes.extend(f.encode());
                }
                self.feed(&bytes);
            }
            Op::Frames(frames) => {
                let bytes: Vec<u8> = frames.iter().flat_map(GenFrame::encode).collect();
                self.feed(&bytes);
            }
            Op::Raw(bytes) => self.feed(bytes),
            Op::SendText { len, pattern } => {
                let t = text(usize::from(*len) % 5000, *pattern);
                let could = self.conn.can_send(t.len());
                let r = self.command(true, |c| c.send_text(&t));
                self.check_room(r, could, t.len());
                if r.is_ok() {
                    self.expect(OpCode::Text, true, t.as_bytes());
                }
            }
            Op::SendBinary { len } => {
                let data = payload(usize::from(*len) % 5000, 2);
                let could = self.conn.can_send(data.len());
                let r = self.command(true, |c| c.send_binary(&data));
                self.check_room(r, could, data.len());
                if r.is_ok() {
                    self.expect(OpCode::Binary, true, &data);
                }
            }
            Op::SendFragment {
                text,
                len,
                pattern,
                fin,
            } => {
                let kind = if *text {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                let data = payload(usize::from(*len) % 5000, *pattern);
                let r = self.command(true, |c| c.send_fragment(kind, &data, *fin));
                if r.is_ok() {
                    let opcode = match (self.sending, kind) {
                        (Some(k), _) => {
                            assert_eq!(k, kind);
                            OpCode::Continuation
                        }
                        (None, DataKind::Text) => OpCode::Text,
                        (None, DataKind::Binary) => OpCode::Binary,
                    };
                    self.expect(opcode, *fin, &data);
                    self.sending = (!fin).then_some(kind);
                }
            }
            Op::Ping { len } => {
                let data = payload(usize::from(*len) % 130, 0);
                let could = self.conn.can_send(data.len());
                let r = self.command(true, |c| c.ping(&data));
                if data.len() > 125 {
                    assert!(r.is_err());
                } else if !matches!(r, Err(SendError::ControlTooLong)) {
                    let sending = self.sending.take();
                    self.check_room(r, could, data.len());
                    self.sending = sending;
                }
                if r.is_ok() {
                    self.expect(OpCode::Ping, true, &data);
                }
            }
            Op::Close { code, reason_len } => {
                let code = CODES[usize::from(*code) % CODES.len()];
                let reason = text(usize::from(*reason_len) % 130, *reason_len);
                let state = self.conn.state();
                let now = self.now;
                let r = self.command(false, |c| c.close(now, code, &reason));
                let valid = is_valid_code(code) && reason.len() <= 123;
                assert_eq!(
                    r.is_ok(),
                    valid,
                    "close({code}, {} bytes): {r:?}",
                    reason.len()
                );
                if valid {
                    match state {
                        State::Open => {
                            self.expect(
                                OpCode::Close,
                                true,
                                &close_payload(code, reason.as_bytes()),
                            );
                            assert_eq!(self.conn.state(), State::Closing);
                        }
                        State::Connecting => {
                            assert_eq!(self.conn.state(), State::Closed);
                            assert!(self.conn.transmit().is_empty());
                        }
                        s => assert_eq!(self.conn.state(), s),
                    }
                }
            }
            Op::Advance { ms } => {
                let deadline = self.conn.poll_timeout();
                self.now = self.now.plus_millis(u64::from(*ms));
                let r = self.conn.handle_timeout(self.now);
                let due = deadline.is_some_and(|d| self.now >= d);
                assert_eq!(r.is_err(), due, "timer at {deadline:?}, now {:?}", self.now);
                if due {
                    assert_eq!(self.conn.state(), State::Closed);
                }
            }
            Op::Transmit { n } => self.transmit(usize::from(*n)),
            Op::TransmitAll => {
                // Drain until the input is used up: pongs may fill the queue
                // again, but with the queue empty at least one more ping is
                // answered each round, so nothing waits forever.
                loop {
                    self.transmit(usize::MAX);
                    let before = self.rx.len();
                    self.pump();
                    if !matches!(self.conn.state(), State::Open | State::Closing)
                        || self.rx.len() < MIN_RECV_BUFFER
                    {
                        break;
                    }
                    assert!(
                        self.rx.len() < before,
                        "{} bytes stuck in {:?} with an empty queue: {:02x?}",
                        self.rx.len(),
                        self.conn.state(),
                        &self.rx[..self.rx.len().min(24)]
                    );
                }
            }
            Op::Eof => {
                let closed = self.conn.state() == State::Closed;
                let r = self.conn.handle_eof(self.rx.len());
                assert_eq!(r.is_ok(), closed);
                assert_eq!(self.conn.state(), State::Closed);
            }
        }
        self.check();
        // After a transmit a waiting ping may fit its pong now.
        self.pump();
    }
}

fuzz_target!(|input: Input| {
    let cap = TX_CAPS[usize::from(input.tx_cap) % TX_CAPS.len()];
    let max = MAX_MSGS[usize::from(input.max_msg) % MAX_MSGS.len()];
    let config = Config {
        max_message_size: max,
        ..Config::default()
    };
    let Some((conn, req_len, response)) = connecting(cap, config) else {
        return;
    };
    let request = conn.transmit().to_vec();
    assert_eq!(request.len(), req_len);
    let mut h = Harness {
        conn,
        cap,
        now: Instant::ZERO,
        request,
        response,
        rx: Vec::new(),
        asm: Assembler::new(vec![0u8; max as usize]),
        sent: Vec::new(),
        cursor: 0,
        expected: Vec::new(),
        matched: 0,
        checker: ClientStreamChecker::default(),
        state: State::Connecting,
        sending: None,
    };
    for op in input.ops.iter().take(256) {
        h.run(op);
    }
    h.transmit(usize::MAX);
    h.check();
    assert_eq!(h.matched, h.expected.len(), "owed frames never written");
    if std::env::var_os("WS_FUZZ_DEBUG").is_some() {
        let kinds: Vec<_> = h.expected.iter().map(|f| f.opcode).collect();
        eprintln!("STATS state={:?} frames={:?}", h.state, kinds);
    }
});
