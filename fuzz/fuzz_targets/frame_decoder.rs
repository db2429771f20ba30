//! `frame_decoder`: the server's byte stream fed whole and fed in pieces must
//! give the same messages, control events, outcome and bytes on the wire.
//!
//! Input layout: `[cfg, k, size_0 .. size_{k-1}, stream ..]`.
//! - `cfg & 7` picks `max_message_size` (also the assembler's capacity);
//!   `cfg & 8` puts the 101 response at the front of the split stream (else
//!   the handshake is completed first, whole).
//! - `k % 17` piece sizes follow (`size + 1` bytes each, used in a cycle);
//!   `k == 0` feeds one byte at a time.
//! - `(cfg >> 4) & 3` picks the receive buffer of the `Session` run.
//! - The rest is the server stream after the handshake.
//!
//! Checked: the split run, and a run through a `Session` (bounded receive
//! buffer, assembler) reading the same pieces, agree with the whole run. The
//! split run follows the contract of `Connection::recv` (the
//! unconsumed rest is passed again with more bytes appended) and its
//! assembled messages, pings, pongs, close, error, EOF outcome, final state and
//! the client's frames equal the whole run's; the assembler never fails (the
//! connection enforces the size limit and UTF-8); every event makes progress;
//! a protocol error leaves a close frame with its code as the last frame on
//! the wire, and a received close is echoed with its code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::frame::OpCode;
use ws_proto::{
    Assembler, Config, Connection, Disconnect, Error, Event, Instant, Message, Session,
    SessionEvent, State, MIN_RECV_BUFFER,
};
use ws_proto_fuzz::{connecting, parse_client_frames, ClientStreamChecker, WireFrame, Xorshift};

const MAX_SIZES: [u64; 8] = [0, 1, 16, 125, 126, 1000, 65535, 65536];
const RX_SIZES: [usize; 4] = [MIN_RECV_BUFFER, 200, 1024, 4096];

#[derive(Debug, PartialEq, Eq)]
enum Rec {
    Connected(Option<String>),
    Msg(bool, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed(Option<u16>, String),
    Failed(Error),
    Eof(Result<(), Error>),
}

struct Run {
    conn: Connection<Xorshift, Vec<u8>>,
    asm: Assembler<Vec<u8>>,
    recs: Vec<Rec>,
    wire: Vec<u8>,
    done: bool,
}

impl Run {
    fn new(max: u64, handshake_in_stream: bool) -> Option<(Run, Vec<u8>)> {
        let config = Config {
            max_message_size: max,
            ..Config::default()
        };
        let (mut conn, req_len, response) = connecting(1024, config)?;
        conn.advance_transmit(req_len);
        let mut run = Run {
            conn,
            asm: Assembler::new(vec![0u8; max as usize]),
            recs: Vec::new(),
            wire: Vec::new(),
            done: false,
        };
        if handshake_in_stream {
            return Some((run, response));
        }
        let used = run.pump(&response);
        assert_eq!(used, response.len(), "the whole response is consumed");
        assert_eq!(run.conn.state(), State::Open);
        Some((run, Vec::new()))
    }

    /// Calls `recv` until it needs more input; returns how much it consumed.
    fn pump(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        let mut idle_events = 0;
        while !self.done {
            let r = match self.conn.recv(Instant::ZERO, &input[pos..]) {
                Ok(r) => r,
                Err(e) => {
                    self.recs.push(Rec::Failed(e));
                    self.drain();
                    self.done = true;
                    check_failure(e, &self.wire);
                    break;
                }
            };
            assert!(r.consumed <= input.len() - pos, "consumed past the input");
            pos += r.consumed;
            let Some(event) = r.event() else {
                break;
            };
            if r.consumed == 0 {
                idle_events += 1;
                assert!(idle_events < 4, "events without progress: {event:?}");
            } else {
                idle_events = 0;
            }
            let rec = match event {
                Event::Connected { protocol } => Some(Rec::Connected(protocol.map(String::from))),
                Event::Ping(p) => Some(Rec::Ping(p.to_vec())),
                Event::Pong(p) => Some(Rec::Pong(p.to_vec())),
                Event::Closed(c) => Some(Rec::Closed(c.code, c.reason.to_string())),
                data => match self.asm.accept(data) {
                    Ok(Some(Message::Text(t))) => Some(Rec::Msg(true, t.as_bytes().to_vec())),
                    Ok(Some(Message::Binary(b))) => Some(Rec::Msg(false, b.to_vec())),
                    Ok(None) => None,
                    Err(e) => panic!("assembler refused what the connection passed: {e:?}"),
                },
            };
            if let Some(Rec::Closed(code, _)) = &rec {
                self.drain();
                check_echo(*code, &self.wire);
            }
            self.recs.extend(rec);
            // A pong or close echo went into the queue: the transport writes it.
            self.drain();
        }
        pos
    }

    fn drain(&mut self) {
        let pending = self.conn.transmit();
        assert!(
            pending.len() <= 1024,
            "transmit() over the queue's capacity"
        );
        self.wire.extend_from_slice(pending);
        let n = pending.len();
        self.conn.advance_transmit(n);
    }

    fn finish(mut self, unconsumed: usize) -> (Vec<Rec>, Vec<WireFrame>, State) {
        self.recs.push(Rec::Eof(self.conn.handle_eof(unconsumed)));
        self.drain();
        let (frames, used) = parse_client_frames(&self.wire);
        assert_eq!(used, self.wire.len(), "the client wrote a partial frame");
        let mut checker = ClientStreamChecker::default();
        for f in &frames {
            checker.check(f);
        }
        (self.recs, frames, self.conn.state())
    }
}

/// A protocol error leaves its close code as the last frame on the wire.
fn check_failure(e: Error, wire: &[u8]) {
    if let Error::Protocol(p) = e {
        let (frames, _) = parse_client_frames(wire);
        let last = frames.last().expect("a close frame after a protocol error");
        assert_eq!(last.opcode, OpCode::Close);
        assert_eq!(last.payload, p.close_code().to_be_bytes(), "{p:?}");
    }
}

/// A received close is echoed with its code (empty for an empty close).
fn check_echo(code: Option<u16>, wire: &[u8]) {
    let (frames, _) = parse_client_frames(wire);
    let last = frames.last().expect("the close echo");
    assert_eq!(last.opcode, OpCode::Close);
    let want: Vec<u8> = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
    assert_eq!(last.payload, want);
}

/// The same stream through a `Session` (bounded receive buffer, assembler),
/// read in the same pieces as far as its buffer lets it.
fn session_run(
    max: u64,
    handshake_in_stream: bool,
    rx_size: usize,
    input: &[u8],
    pieces: &mut dyn FnMut() -> usize,
) -> Option<(Vec<Rec>, Vec<WireFrame>, State)> {
    let config = Config {
        max_message_size: max,
        ..Config::default()
    };
    let (mut conn, req_len, response) = connecting(1024, config)?;
    conn.advance_transmit(req_len);
    // The receive buffer must hold the response header (129 bytes here).
    let rx_size = rx_size.max(response.len());
    let mut s = Session::new(conn, vec![0u8; rx_size], vec![0u8; max as usize]).ok()?;
    let mut recs = Vec::new();
    let mut wire = Vec::new();
    let mut stream = response.clone();
    stream.extend_from_slice(input);
    let mut at = 0;
    // Without the handshake in the fuzzed stream, the response goes in whole first.
    let mut first = !handshake_in_stream;
    while at < stream.len() && !s.has_ended() {
        let want = if first { response.len() } else { pieces() };
        first = false;
        let mut left = want.min(stream.len() - at);
        while left > 0 && !s.has_ended() {
            let buf = s.read_buf();
            assert!(
                !buf.is_empty(),
                "receive buffer full although every event was polled"
            );
            let n = buf.len().min(left);
            buf[..n].copy_from_slice(&stream[at..at + n]);
            s.commit_read(n);
            at += n;
            left -= n;
            while let Some(ev) = s.poll_event(Instant::ZERO) {
                recs.push(match ev {
                    SessionEvent::Connected { protocol } => {
                        Rec::Connected(protocol.map(String::from))
                    }
                    SessionEvent::Message(Message::Text(t)) => {
                        Rec::Msg(true, t.as_bytes().to_vec())
                    }
                    SessionEvent::Message(Message::Binary(b)) => Rec::Msg(false, b.to_vec()),
                    SessionEvent::Fragment { .. } => {
                        panic!("fragment from a whole-message session")
                    }
                    SessionEvent::Ping(p) => Rec::Ping(p.to_vec()),
                    SessionEvent::Pong(p) => Rec::Pong(p.to_vec()),
                    SessionEvent::Closed(Disconnect::Clean(c)) => {
                        Rec::Closed(c.code, c.reason.to_string())
                    }
                    SessionEvent::Closed(Disconnect::Error(e)) => Rec::Failed(e),
                    SessionEvent::Closed(d) => panic!("unexpected end {d:?}"),
                    other => panic!("an event this target does not know: {other:?}"),
                });
                wire.extend_from_slice(s.transmit());
                let n = s.transmit().len();
                s.advance_transmit(n);
            }
        }
    }
    s.handle_eof();
    recs.push(Rec::Eof(match s.poll_event(Instant::ZERO) {
        None => Ok(()),
        Some(SessionEvent::Closed(Disconnect::Error(e))) => Err(e),
        Some(other) => panic!("unexpected end at EOF {other:?}"),
    }));
    wire.extend_from_slice(s.transmit());
    let (frames, used) = parse_client_frames(&wire);
    assert_eq!(used, wire.len(), "the session wrote a partial frame");
    Some((recs, frames, s.connection_ref().state()))
}

fuzz_target!(|data: &[u8]| {
    let [cfg, k, rest @ ..] = data else {
        return;
    };
    let k = usize::from(*k % 17);
    if rest.len() < k {
        return;
    }
    let (sizes, stream) = rest.split_at(k);
    if stream.len() > 1 << 16 {
        return;
    }
    let max = MAX_SIZES[usize::from(cfg & 7)];
    let handshake_in_stream = cfg & 8 != 0;

    // Whole.
    let Some((mut whole, prefix)) = Run::new(max, handshake_in_stream) else {
        return;
    };
    let mut input = prefix.clone();
    input.extend_from_slice(stream);
    let used = whole.pump(&input);
    let whole = whole.finish(input.len() - used);

    // In pieces, with the unconsumed rest carried over.
    let Some((mut split, _)) = Run::new(max, handshake_in_stream) else {
        return;
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < input.len() {
        let size = if k == 0 {
            1
        } else {
            usize::from(sizes[i % k]) + 1
        };
        i += 1;
        let end = (at + size).min(input.len());
        pending.extend_from_slice(&input[at..end]);
        at = end;
        let used = split.pump(&pending);
        pending.drain(..used);
        if matches!(split.conn.state(), State::Open | State::Closing) {
            // A receive buffer of MIN_RECV_BUFFER bytes always makes progress
            // (the queue is drained, so a ping never waits for its pong).
            assert!(
                pending.len() < MIN_RECV_BUFFER,
                "{} bytes left unconsumed",
                pending.len()
            );
        }
    }
    let split = split.finish(pending.len());

    assert_eq!(
        whole.0, split.0,
        "events differ between whole and split input"
    );
    assert_eq!(whole.1, split.1, "frames on the wire differ");
    assert_eq!(whole.2, split.2, "final state differs");

    // Through a Session, whose receive buffer also bounds the pieces.
    let rx_size = RX_SIZES[usize::from(cfg >> 4 & 3)];
    let mut i = 0;
    let mut pieces = || {
        i += 1;
        if k == 0 {
            1
        } else {
            usize::from(sizes[(i - 1) % k]) + 1
        }
    };
    if let Some(session) = session_run(max, handshake_in_stream, rx_size, stream, &mut pieces) {
        assert_eq!(whole.0, session.0, "events differ through a Session");
        assert_eq!(
            whole.1, session.1,
            "frames on the wire differ through a Session"
        );
        assert_eq!(whole.2, session.2, "final state differs through a Session");
    }
});
