//! The driver on a virtual clock with scripted socket observations: no
//! sockets, no sleeps (quinn's `tests::Pair` idea). A [`Net`] plays the
//! socket layer: it executes every [`Action`] against a scripted peer per
//! connection and records what was asked, so each test states what the
//! driver decided, on which input, at which millisecond.

use std::collections::BTreeSet;
use std::string::{String, ToString};
use std::vec::Vec;

use super::*;
use crate::close::CloseFrame;
use crate::error::Error;
use crate::handshake;
use crate::random::RandomError;
use crate::session::{Disconnect, LinkError};
use crate::Message;

/// A deterministic test source (xorshift); never shipped.
#[derive(Clone, Debug)]
struct TestRng(u64);

impl Random for TestRng {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
        Ok(())
    }
}

type TestSlot = Slot<TestRng, [u8; 1024], [u8; 256], [u8; 1024]>;
type TestDriver = Driver<TestRng, [u8; 1024], [u8; 256], [u8; 1024], [TestSlot; 2]>;

fn storage() -> Storage<TestRng, [u8; 1024], [u8; 256], [u8; 1024]> {
    Storage {
        rng: TestRng(0x9e37_79b9_7f4a_7c15),
        tx: [0; 1024],
        rx: [0; 256],
        assembler: [0; 1024],
    }
}

/// What the socket layer was asked to do, owned so tests can compare.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Did {
    Resolve(ConnId, String),
    Connect(ConnId, SocketAddr),
    Write(ConnId, usize),
    Read(ConnId, usize),
    Shutdown(ConnId),
    Close(ConnId),
}

/// The scripted peer of one connection: what it will send, how the socket
/// ends, and everything the client wrote.
#[derive(Debug, Default)]
struct Peer {
    inbox: Vec<u8>,
    /// After the inbox is drained, a read reports this (else `WouldBlock`).
    end: Option<Io>,
    /// The next write fails with this.
    write_error: Option<LinkError>,
    written: Vec<u8>,
}

/// The driver plus a scripted socket layer and a virtual clock.
struct Net {
    d: TestDriver,
    now: Instant,
    peers: [Peer; 2],
    log: Vec<Did>,
}

const HOUR: u64 = 3_600_000;

impl Net {
    fn new(config: DriverConfig) -> Net {
        Net {
            d: Driver::new([Slot::new(), Slot::new()], config),
            now: Instant::ZERO,
            peers: Default::default(),
            log: Vec::new(),
        }
    }

    /// Long timers unless a test sets them, so only the timer under test fires.
    fn quiet() -> DriverConfig {
        DriverConfig {
            proto: Config {
                handshake_timeout_ms: HOUR,
                close_timeout_ms: HOUR,
                ..Config::default()
            },
            connect_timeout_ms: HOUR,
            linger_ms: HOUR,
            ..DriverConfig::default()
        }
    }

    fn open(&mut self, url: &str) -> ConnId {
        let id = self
            .d
            .open(url, &HandshakeOptions::default(), self.now, storage);
        let id = id.unwrap_or_else(|e| panic!("open {url}: {e}"));
        self.peers[id.slot()] = Peer::default();
        id
    }

    /// Executes actions until the driver has none (bounded), answering
    /// resolutions and connects with `Pending`.
    fn run(&mut self) {
        for _ in 0..1000 {
            if !self.step() {
                return;
            }
        }
        panic!(
            "the driver did not settle: {:?}",
            &self.log[self.log.len() - 10..]
        );
    }

    fn step(&mut self) -> bool {
        let now = self.now;
        let Some(action) = self.d.poll_action(now) else {
            return false;
        };
        match action {
            Action::Resolve { id, host, .. } => {
                self.log.push(Did::Resolve(id, host.to_string()));
                self.d.handle_resolved(id, Resolution::Pending);
            }
            Action::Connect { id, addr } => {
                self.log.push(Did::Connect(id, addr));
                self.d.handle_connect(id, ConnectOutcome::Pending, now);
            }
            Action::Write { id, bytes } => {
                let peer = &mut self.peers[id.slot()];
                let io = match peer.write_error.take() {
                    Some(e) => Io::Failed(e),
                    None => {
                        peer.written.extend_from_slice(bytes);
                        Io::Done(bytes.len())
                    }
                };
                self.log.push(Did::Write(id, bytes.len()));
                self.d.handle_write(id, io);
            }
            Action::Read { id, buf } => {
                let peer = &mut self.peers[id.slot()];
                let n = buf.len().min(peer.inbox.len());
                let io = if n > 0 {
                    buf[..n].copy_from_slice(&peer.inbox[..n]);
                    peer.inbox.drain(..n);
                    Io::Done(n)
                } else {
                    peer.end.unwrap_or(Io::WouldBlock)
                };
                self.log.push(Did::Read(id, n));
                self.d.handle_read(id, io);
            }
            Action::Shutdown { id } => self.log.push(Did::Shutdown(id)),
            Action::Close { id } => self.log.push(Did::Close(id)),
        }
        true
    }

    /// Every event now, owned as text for comparison.
    fn events(&mut self) -> Vec<(ConnId, String)> {
        let mut out = Vec::new();
        for _ in 0..1000 {
            self.run();
            let now = self.now;
            match self.d.poll_event(now) {
                Some((id, e)) => out.push((id, describe(&e))),
                None => return out,
            }
        }
        panic!("endless events");
    }

    /// Moves the clock and runs the timers.
    fn advance_to(&mut self, t: Instant) {
        self.now = t;
        self.d.handle_timeout(t);
    }

    /// A readiness event, as an edge-triggered poller reports it: the end
    /// (EOF, reset) shows as `read_closed`.
    fn readable(&mut self, id: ConnId) {
        let read_closed = self.peers[id.slot()].end.is_some();
        self.d.handle_readiness(
            id,
            Readiness {
                readable: true,
                writable: true,
                read_closed,
            },
        );
    }

    /// The peer answers the handshake request it received.
    fn accept(&mut self, id: ConnId) {
        let req = String::from_utf8_lossy(&self.peers[id.slot()].written).into_owned();
        let key = req
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap_or_else(|| panic!("no key in {req:?}"));
        let accept = handshake::accept_key(key.as_bytes());
        let response = std::format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            core::str::from_utf8(&accept).unwrap_or("")
        );
        self.send(id, response.as_bytes());
    }

    fn send(&mut self, id: ConnId, bytes: &[u8]) {
        self.peers[id.slot()].inbox.extend_from_slice(bytes);
        self.readable(id);
    }

    /// A connection to an IP literal, up and open.
    fn open_connected(&mut self) -> ConnId {
        let id = self.open("ws://127.0.0.1:9001/");
        self.connect(id);
        self.accept(id);
        assert_eq!(self.events(), [(id, "connected".into())]);
        assert_eq!(self.d.phase(id), Some(Phase::Open));
        id
    }

    fn connect(&mut self, id: ConnId) {
        self.run();
        self.d
            .handle_connect(id, ConnectOutcome::Connected, self.now);
        self.run();
    }

    /// The actions logged since `mark` for `id`, reads of nothing left out.
    fn since(&self, mark: usize, id: ConnId) -> Vec<Did> {
        self.log[mark..]
            .iter()
            .filter(|d| !matches!(d, Did::Read(_, 0)))
            .filter(|d| did_id(d) == id)
            .cloned()
            .collect()
    }
}

fn did_id(d: &Did) -> ConnId {
    match *d {
        Did::Resolve(id, _)
        | Did::Connect(id, _)
        | Did::Write(id, _)
        | Did::Read(id, _)
        | Did::Shutdown(id)
        | Did::Close(id) => id,
    }
}

fn describe(e: &SessionEvent<'_>) -> String {
    match e {
        SessionEvent::Connected { .. } => "connected".into(),
        SessionEvent::Message(Message::Text(t)) => std::format!("text {t}"),
        SessionEvent::Message(Message::Binary(b)) => std::format!("binary {}", b.len()),
        SessionEvent::Ping(_) => "ping".into(),
        SessionEvent::Pong(_) => "pong".into(),
        SessionEvent::Fragment { .. } => "fragment".into(),
        SessionEvent::Closed(d) => std::format!("closed {d:?}"),
    }
}

/// An unmasked server frame.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = std::vec![0x80 | opcode, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

fn server_close(code: u16) -> Vec<u8> {
    frame(0x8, &code.to_be_bytes())
}

fn closed(d: Disconnect<'_>) -> String {
    describe(&SessionEvent::Closed(d))
}

// ----- the table, row by row ---------------------------------------------

/// Brings a fresh connection to `phase` and returns it.
fn reach(net: &mut Net, phase: Phase) -> ConnId {
    match phase {
        Phase::Resolve => {
            let id = net.open("ws://example.test/");
            net.run();
            id
        }
        Phase::Connect => {
            let id = net.open("ws://127.0.0.1:9001/");
            net.run();
            id
        }
        Phase::Handshake => {
            let id = net.open("ws://127.0.0.1:9001/");
            net.connect(id);
            id
        }
        Phase::Open => net.open_connected(),
        Phase::Closing => {
            let id = net.open_connected();
            let now = net.now;
            assert_eq!(
                net.d.connection(id).map(|c| c.close(now, 1000, "")),
                Ok(Ok(()))
            );
            id
        }
        Phase::Linger => {
            let id = net.open_connected();
            net.send(id, &server_close(1000));
            assert_eq!(
                net.events(),
                [(
                    id,
                    closed(Disconnect::Clean(CloseFrame {
                        code: Some(1000),
                        reason: ""
                    }))
                )]
            );
            id
        }
        Phase::Released => unreachable!("not a starting phase"),
    }
}

/// Applies `trigger` to `id` (in `from`); `None` when the phase can no
/// longer be asked because the id's `Close` was given (checked instead).
fn apply(net: &mut Net, id: ConnId, from: Phase, trigger: Trigger) -> Option<Phase> {
    let now = net.now;
    match trigger {
        Trigger::Resolved => {
            net.d
                .handle_resolved(id, Resolution::Found("127.0.0.1".parse().ok()?));
        }
        Trigger::Connected => net.d.handle_connect(id, ConnectOutcome::Connected, now),
        Trigger::Accepted => {
            net.run();
            net.accept(id);
            assert_eq!(net.events(), [(id, "connected".to_string())]);
        }
        Trigger::Redirected | Trigger::RedirectedToAddress => {
            let to = match trigger {
                Trigger::Redirected => "ws://example.test/next",
                _ => "ws://127.0.0.2:9002/next",
            };
            net.run();
            let mark = net.log.len();
            let response = std::format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\n\r\n");
            net.send(id, response.as_bytes());
            assert_eq!(net.events(), []);
            net.run();
            assert!(
                net.since(mark, id).contains(&Did::Close(id)),
                "old socket closes"
            );
        }
        Trigger::LocalClose => {
            let r = net.d.connection(id).map(|c| c.close(now, 1000, ""));
            assert_eq!(r, Ok(Ok(())));
        }
        Trigger::ProtocolEnd => {
            // The handshake or keepalive timer ends the protocol; the end
            // is not delivered yet.
            if from == Phase::Open {
                let c = net.d.connection(id).ok()?;
                c.set_keepalive(10, 10, now);
                net.advance_to(now.plus_millis(10));
                net.run();
            }
            net.advance_to(net.now.plus_millis(HOUR));
        }
        Trigger::DeliveredLinger => {
            net.send(id, &server_close(1000));
            let ev = net.events();
            assert!(
                ev.iter().any(|(i, e)| *i == id && e.starts_with("closed")),
                "{ev:?}"
            );
        }
        Trigger::DeliveredAbort => {
            match from {
                Phase::Resolve => net
                    .d
                    .handle_resolved(id, Resolution::Failed(LinkError::NameNotFound)),
                Phase::Connect => net.d.handle_connect(
                    id,
                    ConnectOutcome::Failed {
                        error: LinkError::Refused,
                        next: None,
                    },
                    now,
                ),
                _ => {
                    net.peers[id.slot()].end = Some(Io::Failed(LinkError::Reset));
                    net.readable(id);
                }
            }
            // Check the phase between delivery and the socket's close.
            net.run();
            let now = net.now;
            let ev = net.d.poll_event(now).map(|(i, e)| (i, describe(&e)));
            assert!(ev.is_some_and(|(i, e)| i == id && e.starts_with("closed")));
            return net.d.phase(id);
        }
        Trigger::LingerDone => {
            net.peers[id.slot()].end = Some(Io::Eof);
            net.readable(id);
            let mark = net.log.len();
            net.run();
            assert_eq!(net.since(mark, id).last(), Some(&Did::Close(id)));
            return Some(Phase::Released);
        }
        Trigger::LingerTimeout => {
            let deadline = net.d.poll_timeout()?;
            net.advance_to(deadline);
            assert_eq!(net.d.phase(id), Some(Phase::Released));
            return Some(Phase::Released);
        }
        Trigger::Reclaimed => {
            let _other = net.open_connected();
            let mark = net.log.len();
            let fresh = net.open("ws://127.0.0.1:9001/");
            assert_eq!(fresh.slot(), id.slot(), "the lingering slot is taken over");
            net.run();
            assert_eq!(
                net.log.get(mark),
                Some(&Did::Close(id)),
                "old socket closes first"
            );
            assert_eq!(net.d.phase(id), None);
            return Some(Phase::Released);
        }
    }
    net.run();
    net.d.phase(id)
}

#[test]
fn every_row_of_the_table_is_walked() {
    let mut walked = BTreeSet::new();
    for (row, &(from, trigger, to)) in TRANSITIONS.iter().enumerate() {
        assert_ne!(from, to, "a row must change the phase");
        assert!(table::is_transition(from, to));
        let mut net = Net::new(Net::quiet());
        let id = reach(&mut net, from);
        assert_eq!(net.d.phase(id), Some(from), "reaching {from:?}");
        let after = apply(&mut net, id, from, trigger);
        assert_eq!(after, Some(to), "row {row}: {from:?} --{trigger:?}-->");
        walked.insert(row);
    }
    assert_eq!(walked.len(), TRANSITIONS.len());
}

// ----- timers: each fires exactly at its deadline -------------------------

fn config_with(f: impl FnOnce(&mut DriverConfig)) -> DriverConfig {
    let mut c = Net::quiet();
    f(&mut c);
    c
}

#[test]
fn connect_timeout_fires_at_its_deadline() {
    let mut net = Net::new(config_with(|c| c.connect_timeout_ms = 500));
    let id = net.open("ws://example.test/");
    net.run();
    assert_eq!(net.d.poll_timeout(), Some(Instant::from_millis(500)));
    net.advance_to(Instant::from_millis(499));
    assert_eq!(net.events(), []);
    net.advance_to(Instant::from_millis(500));
    let want = closed(Disconnect::Link(LinkError::ConnectTimeout));
    assert_eq!(net.events(), [(id, want)]);
    assert_eq!(net.log.last(), Some(&Did::Close(id)));
}

#[test]
fn handshake_timeout_fires_at_its_deadline() {
    let mut net = Net::new(config_with(|c| c.proto.handshake_timeout_ms = 700));
    let id = net.open("ws://127.0.0.1:1/");
    net.advance_to(Instant::from_millis(100));
    net.connect(id);
    assert_eq!(net.d.poll_timeout(), Some(Instant::from_millis(700)));
    net.advance_to(Instant::from_millis(699));
    assert_eq!(net.events(), []);
    net.advance_to(Instant::from_millis(700));
    let want = closed(Disconnect::Error(Error::HandshakeTimeout));
    assert_eq!(net.events(), [(id, want)]);
}

#[test]
fn close_timeout_then_linger_timeout() {
    let mut net = Net::new(config_with(|c| {
        c.proto.close_timeout_ms = 300;
        c.linger_ms = 50;
    }));
    let id = net.open_connected();
    let now = net.now;
    assert_eq!(
        net.d.connection(id).map(|c| c.close(now, 1000, "")),
        Ok(Ok(()))
    );
    net.run();
    assert_eq!(net.d.poll_timeout(), Some(now.plus_millis(300)));
    net.advance_to(now.plus_millis(299));
    assert_eq!(net.events(), []);
    net.advance_to(now.plus_millis(300));
    let want = closed(Disconnect::Error(Error::CloseTimeout));
    assert_eq!(net.events(), [(id, want)]);
    assert_eq!(net.d.phase(id), Some(Phase::Linger));
    assert_eq!(net.d.poll_timeout(), Some(now.plus_millis(350)));
    net.advance_to(now.plus_millis(349));
    net.run();
    assert_eq!(net.d.phase(id), Some(Phase::Linger));
    net.advance_to(now.plus_millis(350));
    net.run();
    assert_eq!(net.d.phase(id), None);
    assert_eq!(net.log.last(), Some(&Did::Close(id)));
}

#[test]
fn keepalive_pings_then_fails_and_releases_at_once() {
    let mut net = Net::new(Net::quiet());
    let id = net.open_connected();
    let t0 = net.now;
    if let Ok(c) = net.d.connection(id) {
        c.set_keepalive(1000, 400, t0);
    }
    assert_eq!(net.d.poll_timeout(), Some(t0.plus_millis(1000)));
    let written = net.peers[id.slot()].written.len();
    net.advance_to(t0.plus_millis(999));
    net.run();
    assert_eq!(net.peers[id.slot()].written.len(), written, "no ping yet");
    net.advance_to(t0.plus_millis(1000));
    net.run();
    let ping = &net.peers[id.slot()].written[written..];
    assert_eq!(ping.first(), Some(&0x89), "a masked ping went out");
    assert_eq!(net.d.poll_timeout(), Some(t0.plus_millis(1400)));
    net.advance_to(t0.plus_millis(1399));
    assert_eq!(net.events(), []);
    net.advance_to(t0.plus_millis(1400));
    let want = closed(Disconnect::Error(Error::KeepaliveTimeout));
    assert_eq!(net.events(), [(id, want)]);
    // The peer is gone: no linger.
    assert_eq!(net.d.phase(id), None);
    assert_eq!(net.log.last(), Some(&Did::Close(id)));
}

#[test]
fn any_inbound_byte_proves_the_link_alive() {
    let mut net = Net::new(Net::quiet());
    let id = net.open_connected();
    let t0 = net.now;
    if let Ok(c) = net.d.connection(id) {
        c.set_keepalive(1000, 400, t0);
    }
    for k in 1..=5u64 {
        net.advance_to(t0.plus_millis(900 * k));
        net.send(id, &frame(0x1, b"x"));
        assert_eq!(net.events(), [(id, "text x".to_string())]);
    }
    let pings = net.peers[id.slot()]
        .written
        .iter()
        .filter(|&&b| b == 0x89)
        .count();
    assert_eq!(pings, 0, "a busy stream never pings");
}

// ----- faults after buffered events --------------------------------------

#[test]
fn read_fault_comes_after_the_messages_read_before_it() {
    for end in [Io::Failed(LinkError::Reset), Io::Eof] {
        let mut net = Net::new(Net::quiet());
        let id = net.open_connected();
        for t in ["a", "b", "c"] {
            net.peers[id.slot()].inbox.extend(frame(0x1, t.as_bytes()));
        }
        net.peers[id.slot()].end = Some(end);
        net.readable(id);
        let ev = net.events();
        let last = match end {
            Io::Eof => closed(Disconnect::Error(Error::UnexpectedEof { mid_frame: false })),
            _ => closed(Disconnect::Link(LinkError::Reset)),
        };
        let want: Vec<(ConnId, String)> = ["text a", "text b", "text c", &last]
            .iter()
            .map(|e| (id, e.to_string()))
            .collect();
        assert_eq!(ev, want, "{end:?}");
    }
}

#[test]
fn write_fault_drains_reads_first() {
    let mut net = Net::new(Net::quiet());
    let id = net.open_connected();
    // More than the receive buffer holds, so draining takes several reads.
    let mut sent = Vec::new();
    for k in 0..40 {
        let t = std::format!("message {k:02}");
        net.peers[id.slot()].inbox.extend(frame(0x1, t.as_bytes()));
        sent.push((id, std::format!("text {t}")));
    }
    net.peers[id.slot()].write_error = Some(LinkError::Reset);
    let _ = net.d.connection(id).map(|c| c.send_text("out"));
    net.readable(id);
    let mut ev = net.events();
    let last = ev.pop();
    assert_eq!(ev, sent, "every message that arrived is delivered");
    assert_eq!(last, Some((id, closed(Disconnect::Link(LinkError::Reset)))));
}

/// A connection whose next write fails with a reset, and the peer's
/// messages `first..first + n` (as events).
fn messages(net: &mut Net, id: ConnId, first: usize, n: usize) -> Vec<(ConnId, String)> {
    (first..first + n)
        .map(|k| {
            let t = std::format!("message {k:02}");
            net.peers[id.slot()].inbox.extend(frame(0x1, t.as_bytes()));
            (id, std::format!("text {t}"))
        })
        .collect()
}

/// Opens a connection whose write of "out" fails with a reset at `net.now`.
fn failed_write(net: &mut Net) -> ConnId {
    let id = net.open_connected();
    net.peers[id.slot()].write_error = Some(LinkError::Reset);
    let _ = net.d.connection(id).map(|c| c.send_text("out"));
    id
}

#[test]
fn bytes_arriving_within_the_drain_grace_come_before_the_failure() {
    let mut net = Net::new(config_with(|c| c.drain_grace_ms = 100));
    let id = failed_write(&mut net);
    let t0 = net.now;
    // The drain's first read would block: not taken as drained.
    assert_eq!(net.events(), []);
    assert_eq!(net.d.phase(id), Some(Phase::Open));
    assert_eq!(net.d.poll_timeout(), Some(t0.plus_millis(100)));
    // The bytes that came before the reset show up late (more than the
    // receive buffer holds, so several reads).
    net.advance_to(t0.plus_millis(60));
    let sent = messages(&mut net, id, 0, 40);
    net.readable(id);
    assert_eq!(
        net.events(),
        sent,
        "every message is delivered, no failure yet"
    );
    net.advance_to(t0.plus_millis(99));
    assert_eq!(net.events(), []);
    net.advance_to(t0.plus_millis(100));
    let failed = closed(Disconnect::Link(LinkError::Reset));
    assert_eq!(net.events(), [(id, failed)]);
    assert_eq!(net.log.last(), Some(&Did::Close(id)));
}

#[test]
fn a_silent_drain_reports_the_failure_exactly_at_the_grace_end() {
    let failed = closed(Disconnect::Link(LinkError::Reset));
    // By the timer, or by a read handed out at the deadline (a transport
    // that marks every socket ready each turn, before its timers).
    for by_timer in [true, false] {
        let mut net = Net::new(config_with(|c| c.drain_grace_ms = 100));
        let id = failed_write(&mut net);
        let t0 = net.now;
        assert_eq!(net.events(), []);
        // A wakeup with nothing to read is no end either.
        net.advance_to(t0.plus_millis(50));
        net.d.handle_ready_all();
        assert_eq!(net.events(), []);
        assert_eq!(net.d.poll_timeout(), Some(t0.plus_millis(100)));
        net.advance_to(t0.plus_millis(99));
        net.d.handle_ready_all();
        assert_eq!(net.events(), []);
        let end = t0.plus_millis(100);
        if by_timer {
            net.advance_to(end);
        } else {
            net.now = end;
            net.d.handle_ready_all();
        }
        assert_eq!(net.events(), [(id, failed.clone())], "by timer: {by_timer}");
        assert_eq!(net.d.phase(id), None);
    }
}

#[test]
fn without_a_grace_a_read_that_would_block_means_drained() {
    let mut net = Net::new(Net::quiet());
    assert_eq!(net.d.config().drain_grace_ms, 0, "the default");
    let id = failed_write(&mut net);
    let failed = closed(Disconnect::Link(LinkError::Reset));
    assert_eq!(net.events(), [(id, failed)]);
    assert_eq!(net.d.poll_timeout(), None);
    // Bytes that come later are not read.
    let t0 = net.now;
    net.advance_to(t0.plus_millis(1));
    let _ = messages(&mut net, id, 0, 1);
    net.readable(id);
    assert_eq!(net.events(), []);
}

// ----- the TCP close policy ------------------------------------------------

#[test]
fn each_end_has_its_tcp_policy() {
    // A clean close: flush our echo, wait for the server's FIN, close.
    let mut net = Net::new(Net::quiet());
    let id = net.open_connected();
    let mark = net.log.len();
    net.send(id, &server_close(1000));
    net.events();
    net.peers[id.slot()].end = Some(Io::Eof);
    net.readable(id);
    net.run();
    let did = net.since(mark, id);
    assert_eq!(did.first(), Some(&Did::Read(id, 4)));
    assert_eq!(did.get(1), Some(&Did::Write(id, 8)), "close echo, masked");
    assert!(!did.contains(&Did::Shutdown(id)));
    assert_eq!(did.last(), Some(&Did::Close(id)));

    // A protocol error: flush the close frame, shut down writing, wait for FIN.
    let mut net = Net::new(Net::quiet());
    let id = net.open_connected();
    let mark = net.log.len();
    net.send(id, &[0x83, 0]); // reserved opcode
    let ev = net.events();
    assert!(
        ev[0].1.contains("1002") || ev[0].1.contains("Protocol"),
        "{ev:?}"
    );
    let did = net.since(mark, id);
    let shut = did.iter().position(|d| *d == Did::Shutdown(id));
    let write = did.iter().position(|d| matches!(d, Did::Write(..)));
    assert!(write < shut && shut.is_some(), "{did:?}");
    assert_eq!(net.d.phase(id), Some(Phase::Linger));
    net.peers[id.slot()].end = Some(Io::Eof);
    net.readable(id);
    net.run();
    assert_eq!(net.log.last(), Some(&Did::Close(id)));

    // The server closed TCP first: flush what is queued, close.
    let mut net = Net::new(Net::quiet());
    let id = net.open_connected();
    net.peers[id.slot()].inbox.extend(server_close(1000));
    net.peers[id.slot()].end = Some(Io::Eof);
    net.readable(id);
    net.events();
    let did = net.since(0, id);
    assert!(!did.contains(&Did::Shutdown(id)));
    assert_eq!(did.last(), Some(&Did::Close(id)));

    // A failed link: close at once, nothing written after.
    let mut net = Net::new(Net::quiet());
    let id = net.open_connected();
    let mark = net.log.len();
    net.peers[id.slot()].end = Some(Io::Failed(LinkError::Reset));
    net.readable(id);
    net.events();
    let did = net.since(mark, id);
    assert!(!did
        .iter()
        .any(|d| matches!(d, Did::Write(..) | Did::Shutdown(_))));
    assert_eq!(did.last(), Some(&Did::Close(id)));
}

// ----- ids, slots, storage --------------------------------------------------

#[test]
fn ids_are_never_reused_and_dead_ids_are_refused() {
    let mut net = Net::new(Net::quiet());
    let mut seen = BTreeSet::new();
    let mut old = Vec::new();
    for _ in 0..50 {
        let id = net.open("ws://127.0.0.1:9001/");
        assert!(seen.insert(id), "{id:?} repeated");
        net.run();
        let now = net.now;
        let _ = net.d.connection(id).map(|c| c.close(now, 1000, ""));
        assert_eq!(net.events(), [(id, closed(Disconnect::Local))]);
        old.push(id);
    }
    for id in old {
        assert_eq!(
            net.d.connection(id).err(),
            Some(CommandError::UnknownConnection)
        );
        assert_eq!(net.d.state(id), None);
        assert_eq!(net.d.phase(id), None);
    }
    let closes = net
        .log
        .iter()
        .filter(|d| matches!(d, Did::Close(_)))
        .count();
    assert_eq!(closes, 50, "exactly one Close per id");
}

#[test]
fn storage_is_bounded_by_the_slots() {
    let mut net = Net::new(Net::quiet());
    let a = net.open("ws://127.0.0.1:9001/");
    let b = net.open("ws://127.0.0.1:9002/");
    assert_ne!(a.slot(), b.slot());
    let third = net.d.open(
        "ws://127.0.0.1:9003/",
        &HandshakeOptions::default(),
        net.now,
        storage,
    );
    assert_eq!(third, Err(OpenError::TooManyConnections));
    assert_eq!(net.d.connection_count(), 2);
}

#[test]
fn opens_refused_while_the_network_is_down_and_live_links_end() {
    let mut net = Net::new(Net::quiet());
    let id = net.open_connected();
    net.d.set_network(false);
    assert_eq!(
        net.events(),
        [(id, closed(Disconnect::Link(LinkError::NetworkDown)))]
    );
    let r = net.d.open(
        "ws://127.0.0.1:9001/",
        &HandshakeOptions::default(),
        net.now,
        storage,
    );
    assert_eq!(r, Err(OpenError::NetworkDown));
    net.d.set_network(true);
    assert!(net
        .d
        .open(
            "ws://127.0.0.1:9001/",
            &HandshakeOptions::default(),
            net.now,
            storage
        )
        .is_ok());
}

#[test]
fn a_failed_address_moves_to_the_next_one() {
    let mut net = Net::new(Net::quiet());
    let id = net.open("ws://example.test:9001/");
    net.run();
    assert_eq!(net.log, [Did::Resolve(id, "example.test".into())]);
    net.d.handle_resolved(
        id,
        Resolution::Found("::1".parse().unwrap_or(IpAddr::from([0; 4]))),
    );
    net.run();
    let next: SocketAddr = "127.0.0.1:9001"
        .parse()
        .unwrap_or(SocketAddr::from(([0; 4], 0)));
    let now = net.now;
    net.d.handle_connect(
        id,
        ConnectOutcome::Failed {
            error: LinkError::Refused,
            next: Some(next),
        },
        now,
    );
    net.run();
    assert_eq!(net.log.last(), Some(&Did::Connect(id, next)));
    assert_eq!(net.d.phase(id), Some(Phase::Connect));
}

// ----- storage kept in place -----------------------------------------------

#[test]
fn open_in_place_restarts_the_slots_session_with_nothing_of_the_last() {
    let mut net = Net::new(Net::quiet());
    let made = core::cell::Cell::new(0);
    let make = || {
        made.set(made.get() + 1);
        storage()
    };
    let opts = HandshakeOptions::default();
    let a = net
        .d
        .open_in_place("ws://127.0.0.1:9001/one", &opts, net.now, make)
        .unwrap();
    net.connect(a);
    net.accept(a);
    assert_eq!(net.events(), [(a, "connected".into())]);
    // Half a message in the assembler, half a frame in the receive
    // buffer, a frame queued to send; then the link resets.
    net.peers[a.slot()]
        .inbox
        .extend([0x01, 0x03, b'a', b'b', b'c', 0x80, 0x05, b'h']);
    net.peers[a.slot()].end = Some(Io::Failed(LinkError::Reset));
    let _ = net.d.connection(a).map(|c| c.send_text("queued"));
    net.peers[a.slot()].write_error = Some(LinkError::Reset);
    net.readable(a);
    assert_eq!(
        net.events(),
        [(a, closed(Disconnect::Link(LinkError::Reset)))]
    );
    net.run();
    assert_eq!(net.d.lingering(), 0);

    // A request that cannot fit fails and leaves the slot free.
    let long = std::format!("ws://127.0.0.1:9001/{}", "x".repeat(2000));
    let refused = net.d.open_in_place(&long, &opts, net.now, make);
    assert_eq!(
        refused,
        Err(OpenError::Request(crate::SendError::RequestTooLarge))
    );
    assert_eq!(net.d.connection_count(), 0);

    let b = net
        .d
        .open_in_place("ws://127.0.0.1:9001/two", &opts, net.now, make)
        .unwrap();
    assert_eq!(made.get(), 1, "the slot's storage was made once");
    assert_eq!((b.slot(), b == a), (a.slot(), false));
    net.peers[b.slot()] = Peer::default();
    net.connect(b);
    let written = String::from_utf8_lossy(&net.peers[b.slot()].written).into_owned();
    assert!(written.starts_with("GET /two HTTP/1.1\r\n"), "{written:?}");
    assert!(
        written.ends_with("\r\n\r\n"),
        "only the request: {written:?}"
    );
    net.accept(b);
    assert_eq!(net.events(), [(b, "connected".into())]);
    // A text now is whole: no fragment or half frame of `a` is left.
    net.send(b, &frame(0x1, b"fresh"));
    assert_eq!(net.events(), [(b, "text fresh".into())]);
}
