//! `driver`: random socket observations, commands and clock steps on a
//! `Driver` of two slots, checked against a model of the lifecycle.
//!
//! Operations: `open` (IP literal or a name), commands on any id ever handed
//! out (send, ping, close), DNS answers (found, failed, pending), connect
//! outcomes (connected, refused with or without a next address, pending),
//! readiness, the server's bytes (its valid 101 for the request it saw,
//! frames, raw bytes), EOF, reset, a failing write, the network going down
//! and up, and the clock moved by random steps with `handle_timeout`.
//! Actions are executed by a scripted socket layer after every operation.
//!
//! Checked:
//! - at most one `Closed` per id, and no event for an id after it;
//! - exactly one `Close` action per id that got any action, and no action
//!   for an id after its `Close` (a followed redirect's `Close`, after which
//!   the id still has a phase, starts it again on a new socket);
//! - every phase change the driver shows is a row of `table::TRANSITIONS`;
//! - each id's written bytes are its handshake request followed by whole
//!   masked client frames valid to a strict server (a trailing partial
//!   frame only while the write is unfinished);
//! - ids are never handed out twice; commands on dead ids are refused;
//! - the driver settles: every action loop and event loop ends.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::driver::{
    table::is_transition, Action, ConnectOutcome, Io, Phase, Readiness, Resolution, Slot, Storage,
};
use ws_proto::{
    CommandError, ConnId, Driver, DriverConfig, HandshakeOptions, Instant, LinkError, SessionEvent,
};
use ws_proto_fuzz::{
    parse_client_frames, response_for, server_frame, ClientStreamChecker, Xorshift,
};

type TestSlot = Slot<Xorshift, [u8; 1024], [u8; 256], [u8; 512]>;
type TestDriver = Driver<Xorshift, [u8; 1024], [u8; 256], [u8; 512], [TestSlot; 2]>;

#[derive(Arbitrary, Debug)]
enum Op {
    Open {
        literal: bool,
        /// `open_in_place`: the slot keeps its storage and restarts it.
        in_place: bool,
    },
    SendText {
        who: u8,
        len: u8,
    },
    Ping {
        who: u8,
    },
    Close {
        who: u8,
        code: u16,
    },
    Resolved {
        who: u8,
        how: u8,
    },
    Connect {
        who: u8,
        how: u8,
    },
    Ready {
        who: u8,
        readable: bool,
        writable: bool,
        closed: bool,
    },
    Accept {
        who: u8,
    },
    Frame {
        who: u8,
        opcode: u8,
        fin: bool,
        len: u8,
    },
    Raw {
        who: u8,
        bytes: Vec<u8>,
    },
    End {
        who: u8,
        reset: bool,
    },
    FailWrite {
        who: u8,
    },
    ShortWrites {
        who: u8,
        max: u8,
    },
    Network {
        up: bool,
    },
    Clock {
        step: u16,
    },
}

/// What the scripted socket of one id holds.
#[derive(Default)]
struct Peer {
    inbox: Vec<u8>,
    end: Option<Io>,
    write_error: Option<LinkError>,
    max_write: Option<usize>,
    written: Vec<u8>,
}

#[derive(Default)]
struct Model {
    ids: Vec<ConnId>,
    peers: BTreeMap<ConnId, Peer>,
    closed_events: BTreeSet<ConnId>,
    close_actions: BTreeSet<ConnId>,
    phases: BTreeMap<ConnId, Phase>,
}

impl Model {
    fn pick(&self, who: u8) -> Option<ConnId> {
        (!self.ids.is_empty()).then(|| self.ids[usize::from(who) % self.ids.len()])
    }
}

fn storage() -> Storage<Xorshift, [u8; 1024], [u8; 256], [u8; 512]> {
    Storage {
        rng: Xorshift(0x2545_f491_4f6c_dd1d),
        tx: [0; 1024],
        rx: [0; 256],
        assembler: [0; 512],
    }
}

/// The driver's settings; `grace` picks the drain grace after a failed write
/// (0 as the nb and std transports, 100 ms as the async one).
fn config(grace: bool) -> DriverConfig {
    let mut c = DriverConfig::default();
    c.drain_grace_ms = if grace { 100 } else { 0 };
    c.proto.handshake_timeout_ms = 3_000;
    c.proto.close_timeout_ms = 2_000;
    c.proto.ping_interval_ms = 1_500;
    c.proto.pong_timeout_ms = 1_000;
    c.connect_timeout_ms = 2_500;
    c.linger_ms = 1_000;
    c
}

/// Executes actions until none is left, checking each against the model.
fn run(d: &mut TestDriver, m: &mut Model, now: Instant) {
    for _ in 0..10_000 {
        let Some(action) = d.poll_action(now) else {
            return;
        };
        let id = action_id(&action);
        assert!(
            !m.close_actions.contains(&id),
            "action {action:?} after Close"
        );
        let peer = m.peers.entry(id).or_default();
        match action {
            Action::Resolve { id, .. } => d.handle_resolved(id, Resolution::Pending),
            Action::Connect { id, .. } => d.handle_connect(id, ConnectOutcome::Pending, now),
            Action::Write { id, bytes } => {
                let io = match peer.write_error.take() {
                    Some(e) => Io::Failed(e),
                    None => {
                        let n = bytes.len().min(peer.max_write.unwrap_or(usize::MAX)).max(1);
                        peer.written.extend_from_slice(&bytes[..n]);
                        Io::Done(n)
                    }
                };
                d.handle_write(id, io);
            }
            Action::Read { id, buf } => {
                let n = buf.len().min(peer.inbox.len());
                let io = if n > 0 {
                    buf[..n].copy_from_slice(&peer.inbox[..n]);
                    peer.inbox.drain(..n);
                    Io::Done(n)
                } else {
                    peer.end.unwrap_or(Io::WouldBlock)
                };
                d.handle_read(id, io);
            }
            Action::Shutdown { .. } => {}
            Action::Close { id } => {
                if d.phase(id).is_some() {
                    // A followed redirect: the socket closes and the id
                    // starts again on a new one.
                    m.peers.insert(id, Peer::default());
                } else {
                    m.close_actions.insert(id);
                }
            }
        }
    }
    panic!("the driver did not settle on its actions");
}

fn action_id(a: &Action<'_>) -> ConnId {
    match *a {
        Action::Resolve { id, .. }
        | Action::Connect { id, .. }
        | Action::Write { id, .. }
        | Action::Read { id, .. }
        | Action::Shutdown { id }
        | Action::Close { id } => id,
    }
}

/// Delivers every event, checking "one Closed, nothing after it".
fn events(d: &mut TestDriver, m: &mut Model, now: Instant) {
    for _ in 0..10_000 {
        run(d, m, now);
        let Some((id, event)) = d.poll_event(now) else {
            return;
        };
        assert!(
            !m.closed_events.contains(&id),
            "event after Closed for {id:?}"
        );
        if let SessionEvent::Closed(_) = event {
            m.closed_events.insert(id);
        }
    }
    panic!("the driver did not settle on its events");
}

/// Every phase change since the last check is a row of the table.
fn check_phases(d: &TestDriver, m: &mut Model) {
    for &id in &m.ids {
        let Some(now) = d.phase(id) else {
            m.phases.remove(&id);
            continue;
        };
        if let Some(before) = m.phases.insert(id, now) {
            assert!(
                before == now || is_transition(before, now),
                "{id:?}: {before:?} -> {now:?} is not a row"
            );
        }
    }
}

fn ready(d: &mut TestDriver, m: &Model, id: ConnId) {
    let closed = m.peers.get(&id).is_some_and(|p| p.end.is_some());
    d.handle_readiness(
        id,
        Readiness {
            readable: true,
            writable: true,
            read_closed: closed,
        },
    );
}

fn apply(d: &mut TestDriver, m: &mut Model, op: Op, now: &mut Instant) {
    let t = *now;
    match op {
        Op::Open { literal, in_place } => {
            let url = if literal {
                "ws://127.0.0.1:9001/"
            } else {
                "ws://example.test/"
            };
            let opts = HandshakeOptions::default();
            let opened = if in_place {
                d.open_in_place(url, &opts, t, storage)
            } else {
                d.open(url, &opts, t, storage)
            };
            if let Ok(id) = opened {
                assert!(!m.ids.contains(&id), "id {id:?} handed out twice");
                m.ids.push(id);
                m.peers.insert(id, Peer::default());
            }
        }
        Op::SendText { who, len } => command(d, m, who, |c| {
            let text = "x".repeat(usize::from(len) * 3);
            c.send_text(&text)
        }),
        Op::Ping { who } => command(d, m, who, |c| c.ping(b"p")),
        Op::Close { who, code } => command(d, m, who, |c| c.close(t, code, "bye")),
        Op::Resolved { who, how } => {
            if let Some(id) = m.pick(who) {
                let r = match how % 3 {
                    0 => Resolution::Found(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                    1 => Resolution::Failed(LinkError::NameNotFound),
                    _ => Resolution::Pending,
                };
                d.handle_resolved(id, r);
            }
        }
        Op::Connect { who, how } => {
            if let Some(id) = m.pick(who) {
                let next = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9002);
                let o = match how % 4 {
                    0 => ConnectOutcome::Connected,
                    1 => ConnectOutcome::Failed {
                        error: LinkError::Refused,
                        next: None,
                    },
                    2 => ConnectOutcome::Failed {
                        error: LinkError::Refused,
                        next: Some(next),
                    },
                    _ => ConnectOutcome::Pending,
                };
                d.handle_connect(id, o, t);
            }
        }
        Op::Ready {
            who,
            readable,
            writable,
            closed,
        } => {
            if let Some(id) = m.pick(who) {
                d.handle_readiness(
                    id,
                    Readiness {
                        readable,
                        writable,
                        read_closed: closed,
                    },
                );
            }
        }
        Op::Accept { who } => server_bytes(d, m, who, |p| response_for(&p.written)),
        Op::Frame {
            who,
            opcode,
            fin,
            len,
        } => server_bytes(d, m, who, |_| {
            let op = [0x0, 0x1, 0x2, 0x8, 0x9, 0xA][usize::from(opcode) % 6];
            let payload = vec![b'a'; usize::from(len) % if op >= 0x8 { 126 } else { 256 }];
            Some(server_frame(op, fin, &payload))
        }),
        Op::Raw { who, bytes } => server_bytes(d, m, who, |_| Some(bytes)),
        Op::End { who, reset } => {
            if let Some(id) = m.pick(who) {
                let end = if reset {
                    Io::Failed(LinkError::Reset)
                } else {
                    Io::Eof
                };
                m.peers.entry(id).or_default().end = Some(end);
                ready(d, m, id);
            }
        }
        Op::FailWrite { who } => {
            if let Some(id) = m.pick(who) {
                m.peers.entry(id).or_default().write_error = Some(LinkError::Reset);
            }
        }
        Op::ShortWrites { who, max } => {
            if let Some(id) = m.pick(who) {
                m.peers.entry(id).or_default().max_write = (max > 0).then_some(usize::from(max));
            }
        }
        Op::Network { up } => d.set_network(up),
        Op::Clock { step } => {
            *now = t.plus_millis(u64::from(step));
            d.handle_timeout(*now);
        }
    }
}

fn command(
    d: &mut TestDriver,
    m: &Model,
    who: u8,
    f: impl FnOnce(&mut ws_proto::Connection<Xorshift, [u8; 1024]>) -> Result<(), ws_proto::SendError>,
) {
    let Some(id) = m.pick(who) else { return };
    match d.connection(id) {
        Ok(c) => {
            assert!(
                !m.closed_events.contains(&id),
                "{id:?} takes commands after Closed"
            );
            let _ = f(c);
        }
        Err(CommandError::UnknownConnection) => {}
        Err(e) => panic!("unexpected {e:?}"),
    }
}

fn server_bytes(
    d: &mut TestDriver,
    m: &mut Model,
    who: u8,
    f: impl FnOnce(&Peer) -> Option<Vec<u8>>,
) {
    let Some(id) = m.pick(who) else { return };
    let peer = m.peers.entry(id).or_default();
    if let Some(bytes) = f(peer) {
        peer.inbox.extend_from_slice(&bytes);
        ready(d, m, id);
    }
}

/// Each id's written stream: the request, then whole valid client frames.
fn check_written(m: &Model) {
    for (id, p) in &m.peers {
        let w = &p.written;
        let Some(end) = w.windows(4).position(|x| x == b"\r\n\r\n") else {
            assert!(w.starts_with(b"GET ") || b"GET ".starts_with(&w[..w.len().min(4)]));
            continue;
        };
        let (frames, used) = parse_client_frames(&w[end + 4..]);
        let mut checker = ClientStreamChecker::default();
        for f in &frames {
            checker.check(f);
        }
        let _ = (id, used);
    }
}

fuzz_target!(|input: (bool, Vec<Op>)| {
    let (grace, ops) = input;
    let mut d: TestDriver = Driver::new([Slot::new(), Slot::new()], config(grace));
    let mut m = Model::default();
    let mut now = Instant::ZERO;
    for op in ops.into_iter().take(256) {
        apply(&mut d, &mut m, op, &mut now);
        check_phases(&d, &mut m);
        events(&mut d, &mut m, now);
        check_phases(&d, &mut m);
    }
    // Let every connection end: the network goes down, timers run out.
    d.set_network(false);
    for _ in 0..8 {
        now = now.plus_millis(10_000);
        d.handle_timeout(now);
        events(&mut d, &mut m, now);
    }
    check_written(&m);
    for id in &m.ids {
        assert!(m.closed_events.contains(id), "{id:?} never got Closed");
        assert!(m.close_actions.contains(id), "{id:?} never got Close");
        assert!(d.phase(*id).is_none());
    }
});
