//! Deterministic tests of the module's state machine over a scripted
//! transport: handle table and generations, event binding, the event-once
//! rules, the reconnect schedule on a virtual clock, and every -1 path.
//! (Real sockets are exercised in `tests/`.)

use std::collections::{HashMap, VecDeque};

use ws_proto::{CloseFrame, Disconnect, Error, Instant, LinkError, Message, ProtocolError};
use ws_proto::{SendError, SessionEvent, State, UrlError};

use crate::*;

/// A scripted event the mock delivers from `poll`.
#[derive(Clone, Debug)]
enum Scripted {
    Connected(Option<String>),
    Text(String),
    Binary(Vec<u8>),
    Closed(Disconnect<'static>),
}

#[derive(Debug)]
struct MockConn {
    state: State,
}

/// What one `open` offered: (headers, protocols).
type OfferedOptions = (Vec<(String, String)>, Vec<String>);

/// A transport whose connections move only when the test says so.
#[derive(Debug, Default)]
pub(crate) struct Mock {
    next_id: u32,
    conns: HashMap<u32, MockConn>,
    /// Every `open` call: (url, now in ms).
    opens: Vec<(String, u64)>,
    queue: VecDeque<(u32, Scripted)>,
    current: Option<(u32, Scripted)>,
    fail_open: Option<OpenFailure>,
    backpressure: bool,
    /// `send_binary` fails with `TooLarge` (a transport limit).
    too_large: bool,
    sent: Vec<(u32, String)>,
    sent_binary: Vec<(u32, Vec<u8>)>,
    pings: Vec<u32>,
    closes: Vec<u32>,
    /// Every close: (id, code, reason).
    close_frames: Vec<(u32, u16, String)>,
    /// Every open: (headers, protocols).
    options: Vec<OfferedOptions>,
    /// Every set_keepalive: (id, interval ms, timeout ms).
    keepalives: Vec<(u32, u64, u64)>,
    /// The subprotocol `connect` reports.
    protocol: Option<String>,
}

impl Mock {
    fn last_id(&self) -> u32 {
        self.next_id - 1
    }
    /// The handshake of `id` completes.
    fn connect(&mut self, id: u32) {
        self.conns.get_mut(&id).unwrap().state = State::Open;
        let p = self.protocol.clone();
        self.queue.push_back((id, Scripted::Connected(p)));
    }
    /// `id` ends with `reason`.
    fn end(&mut self, id: u32, reason: Disconnect<'static>) {
        self.conns.get_mut(&id).unwrap().state = State::Closed;
        self.queue.push_back((id, Scripted::Closed(reason)));
    }
    fn text(&mut self, id: u32, text: &str) {
        self.queue.push_back((id, Scripted::Text(text.into())));
    }
    pub(crate) fn binary(&mut self, id: u32, data: &[u8]) {
        self.queue.push_back((id, Scripted::Binary(data.into())));
    }
}

impl Transport for Mock {
    type Id = u32;

    fn open_with(
        &mut self,
        url: &str,
        options: &ws_proto::HandshakeOptions<'_>,
        now: Instant,
    ) -> Result<u32, OpenFailure> {
        self.opens.push((url.into(), now.millis()));
        self.options.push((
            options
                .headers
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect(),
            options.protocols.iter().map(|p| (*p).into()).collect(),
        ));
        if let Some(e) = self.fail_open {
            return Err(e);
        }
        if !url.starts_with("ws://") {
            return Err(OpenFailure::Url(UrlError::UnsupportedScheme));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.conns.insert(
            id,
            MockConn {
                state: State::Connecting,
            },
        );
        Ok(id)
    }

    fn send_text(&mut self, id: u32, text: &str) -> Result<(), CommandFailure> {
        let c = self
            .conns
            .get(&id)
            .ok_or(CommandFailure::UnknownConnection)?;
        if c.state != State::Open {
            return Err(CommandFailure::Send(SendError::NotOpen));
        }
        if self.backpressure {
            return Err(CommandFailure::Send(SendError::Backpressure));
        }
        self.sent.push((id, text.into()));
        Ok(())
    }

    fn send_binary(&mut self, id: u32, data: &[u8]) -> Result<(), CommandFailure> {
        let c = self
            .conns
            .get(&id)
            .ok_or(CommandFailure::UnknownConnection)?;
        if c.state != State::Open {
            return Err(CommandFailure::Send(SendError::NotOpen));
        }
        if self.too_large {
            return Err(CommandFailure::Send(SendError::TooLarge));
        }
        if self.backpressure {
            return Err(CommandFailure::Send(SendError::Backpressure));
        }
        self.sent_binary.push((id, data.into()));
        Ok(())
    }

    fn ping(&mut self, id: u32, _payload: &[u8]) -> Result<(), CommandFailure> {
        let c = self
            .conns
            .get(&id)
            .ok_or(CommandFailure::UnknownConnection)?;
        if c.state != State::Open {
            return Err(CommandFailure::Send(SendError::NotOpen));
        }
        self.pings.push(id);
        Ok(())
    }

    fn close(&mut self, id: u32, _now: Instant, code: u16, r: &str) -> Result<(), CommandFailure> {
        let c = self
            .conns
            .get_mut(&id)
            .ok_or(CommandFailure::UnknownConnection)?;
        self.closes.push(id);
        self.close_frames.push((id, code, r.into()));
        // The server echoes the code (the reason is not kept by the mock).
        let reason = match c.state {
            State::Open => Disconnect::Clean(CloseFrame {
                code: Some(code),
                reason: "",
            }),
            _ => Disconnect::Local,
        };
        c.state = State::Closing;
        self.queue.push_back((id, Scripted::Closed(reason)));
        Ok(())
    }

    fn set_keepalive(
        &mut self,
        id: u32,
        interval: u64,
        timeout: u64,
        now: Instant,
    ) -> Result<(), CommandFailure> {
        let _ = now;
        self.conns
            .get(&id)
            .ok_or(CommandFailure::UnknownConnection)?;
        self.keepalives.push((id, interval, timeout));
        Ok(())
    }

    fn state(&self, id: u32) -> Option<State> {
        self.conns.get(&id).map(|c| c.state)
    }

    fn poll(&mut self, _now: Instant) -> Option<(u32, SessionEvent<'_>)> {
        self.current = self.queue.pop_front();
        let (id, ev) = self.current.as_ref()?;
        if matches!(ev, Scripted::Closed(_)) {
            self.conns.remove(id);
        }
        Some((
            *id,
            match ev {
                Scripted::Connected(p) => SessionEvent::Connected {
                    protocol: p.as_deref(),
                },
                Scripted::Text(t) => SessionEvent::Message(Message::Text(t)),
                Scripted::Binary(b) => SessionEvent::Message(Message::Binary(b)),
                Scripted::Closed(d) => SessionEvent::Closed(*d),
            },
        ))
    }
}

/// An emitted event, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum V {
    I(i32),
    S(String),
    B(Vec<u8>),
}

/// A VM with four declared event types, recording what it receives.
#[derive(Debug, Default)]
pub(crate) struct Vm {
    pub(crate) events: Vec<(EventType, Vec<V>)>,
    pub(crate) diagnostics: Vec<String>,
}

const WS_CONNECTED: EventType = 1;
const WS_DISCONNECTED: EventType = 2;
const WS_MESSAGE: EventType = 3;
const WS_CONN_MESSAGE: EventType = 4;
const OTHER: EventType = 5; // event Other { value: i32 }
const WS_BYTES: EventType = 6; // { message: bytes }
const WS_CONN_BYTES: EventType = 7; // { conn: i32, message: bytes }
const WS_CLOSED: EventType = 8; // { conn: i32, code: i32, reason: string }
const WS_PROTOCOL: EventType = 9; // { conn: i32, protocol: string }

impl Host for Vm {
    fn signature_hash(&self, event_type: EventType) -> Option<u32> {
        match event_type {
            WS_CONNECTED | WS_DISCONNECTED => Some(signature_hash(&[("conn", "i32")])),
            WS_MESSAGE => Some(signature_hash(&[("message", "string")])),
            WS_CONN_MESSAGE => Some(signature_hash(&[("conn", "i32"), ("message", "string")])),
            OTHER => Some(signature_hash(&[("value", "i32")])),
            WS_BYTES => Some(signature_hash(&[("message", "bytes")])),
            WS_CONN_BYTES => Some(signature_hash(&[("conn", "i32"), ("message", "bytes")])),
            WS_CLOSED => Some(signature_hash(&[
                ("conn", "i32"),
                ("code", "i32"),
                ("reason", "string"),
            ])),
            WS_PROTOCOL => Some(signature_hash(&[("conn", "i32"), ("protocol", "string")])),
            _ => None,
        }
    }
    fn emit(&mut self, event_type: EventType, fields: &[Value<'_>]) {
        let fields = fields
            .iter()
            .map(|f| match f {
                Value::I32(i) => V::I(*i),
                Value::Str(s) => V::S((*s).into()),
                Value::Bytes(b) => V::B(b.to_vec()),
            })
            .collect();
        self.events.push((event_type, fields));
    }
    fn diagnostic(&mut self, message: &str) {
        self.diagnostics.push(message.into());
    }
}

type M = WsModule<Mock, Vm>;

fn module() -> M {
    WsModule::new(
        Mock::default(),
        Vm::default(),
        ModuleConfig::host(),
        Instant::ZERO,
    )
}

/// Opens a handle with all three events bound.
fn open_bound(m: &mut M) -> (i32, u32) {
    let h = m.open("ws://127.0.0.1:9/x");
    assert!(h >= 0);
    assert_eq!(m.on(h, "connected", WS_CONNECTED), 0);
    assert_eq!(m.on(h, "disconnected", WS_DISCONNECTED), 0);
    assert_eq!(m.on(h, "message", WS_MESSAGE), 0);
    (h, m.transport().last_id())
}

fn take_events(m: &mut M) -> Vec<(EventType, Vec<V>)> {
    std::mem::take(&mut m.host_mut().events)
}

fn reset() -> Disconnect<'static> {
    Disconnect::Link(LinkError::Reset)
}

fn refused() -> Disconnect<'static> {
    Disconnect::Link(LinkError::Refused)
}

#[test]
fn sixteen_handles_on_host_then_minus_one() {
    let mut m = module();
    let handles: Vec<i32> = (0..16).map(|_| m.open("ws://h/")).collect();
    assert!(handles.iter().all(|h| *h >= 0));
    let mut distinct = handles.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 16);
    assert_eq!(m.open("ws://h/"), -1, "17th open");
    assert!(m.host().diagnostics.last().unwrap().contains("too many"));
    assert_eq!(
        m.transport().opens.len(),
        16,
        "the 17th never reaches the transport"
    );
    // Closing one frees its slot once the transport finished.
    assert_eq!(m.close(handles[3]), 0);
    assert_eq!(m.open("ws://h/"), -1, "slot busy until the close completes");
    m.tick(Instant::ZERO);
    assert!(m.open("ws://h/") >= 0);
}

#[test]
fn two_handles_on_esp32() {
    let mut m = WsModule::new(
        Mock::default(),
        Vm::default(),
        ModuleConfig::esp32(),
        Instant::ZERO,
    );
    assert_eq!(m.max_connections(), 2);
    assert!(m.open("ws://h/") >= 0);
    assert!(m.open("ws://h/") >= 0);
    assert_eq!(m.open("ws://h/"), -1);
}

#[test]
fn open_failures_return_minus_one() {
    let mut m = module();
    assert_eq!(m.open("http://h/"), -1);
    assert!(m.host().diagnostics[0].contains("bad URL"));
    // ESP32: the transport refuses to open until the network has an IP.
    m.transport_mut().fail_open = Some(OpenFailure::NetworkDown);
    assert_eq!(m.open("ws://h/"), -1);
    assert!(m.host().diagnostics[1].contains("network not ready"));
    assert_eq!(m.slots_in_use(), 0);
}

#[test]
fn stale_handles_never_reach_newer_connections() {
    let mut m = WsModule::new(
        Mock::default(),
        Vm::default(),
        ModuleConfig::esp32(),
        Instant::ZERO,
    );
    let (old, id) = open_bound(&mut m);
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    assert_eq!(m.close(old), 0);
    m.tick(Instant::ZERO);
    let (new, new_id) = open_bound(&mut m);
    assert_ne!(old, new);
    assert_eq!(old & 0xf, new & 0xf, "same slot, new generation");
    m.transport_mut().connect(new_id);
    m.tick(Instant::ZERO);
    // Every function refuses the old handle.
    assert_eq!(m.send(old, "x"), -1);
    assert_eq!(m.close(old), -1);
    assert_eq!(m.on(old, "message", WS_MESSAGE), -1);
    assert_eq!(m.set_auto_reconnect(old, true), -1);
    assert_eq!(m.set_reconnect_delays(old, &[1]), -1);
    assert_eq!(m.ping(old), -1);
    assert_eq!(m.set_timeout(old, 10), -1);
    assert_eq!(m.state(old), "closed");
    assert!(m.transport().sent.is_empty());
    assert_eq!(m.send(new, "y"), 1);
    assert_eq!(m.state(new), "open");
    // Handles stay >= 0 and distinct over many reuses of the same slots.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..2000 {
        let h = m.open("ws://h/");
        assert!(h >= 0);
        assert!(seen.insert(h), "handle {h} reused");
        assert_eq!(m.close(h), 0);
        m.tick(Instant::ZERO);
    }
    for bad in [-1, -100, i32::MIN, 15, 0x7fff_ffff] {
        assert_eq!(m.send(bad, "x"), -1);
        assert_eq!(m.state(bad), "closed");
    }
}

#[test]
fn on_checks_names_and_layouts() {
    let mut m = module();
    let h = m.open("ws://h/");
    assert_eq!(m.on(h, "connected", WS_CONNECTED), 0);
    assert_eq!(m.on(h, "disconnected", WS_DISCONNECTED), 0);
    assert_eq!(m.on(h, "message", WS_MESSAGE), 0);
    assert_eq!(m.on(h, "message", WS_CONN_MESSAGE), 0);
    // Unknown event names.
    for name in ["error", "Connected", "", "messages"] {
        assert_eq!(m.on(h, name, WS_CONNECTED), -1, "{name:?}");
    }
    assert!(m
        .host()
        .diagnostics
        .last()
        .unwrap()
        .contains("unknown event"));
    // Layouts that do not match.
    assert_eq!(m.on(h, "connected", WS_MESSAGE), -1);
    assert_eq!(m.on(h, "disconnected", WS_CONN_MESSAGE), -1);
    assert_eq!(m.on(h, "message", WS_CONNECTED), -1);
    assert_eq!(m.on(h, "connected", OTHER), -1);
    assert_eq!(m.on(h, "message", OTHER), -1);
    // An event type the VM does not know.
    assert_eq!(m.on(h, "connected", 99), -1);
    assert!(m
        .host()
        .diagnostics
        .last()
        .unwrap()
        .contains("unknown event type"));
    // Bad handle.
    assert_eq!(m.on(-1, "connected", WS_CONNECTED), -1);
}

#[test]
fn events_carry_their_fields() {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    m.transport_mut().connect(id);
    m.transport_mut().text(id, "{\"value\":1}");
    m.tick(Instant::ZERO);
    assert_eq!(m.on(h, "message", WS_CONN_MESSAGE), 0);
    m.transport_mut().text(id, "two");
    m.tick(Instant::ZERO);
    assert_eq!(
        take_events(&mut m),
        vec![
            (WS_CONNECTED, vec![V::I(h)]),
            (WS_MESSAGE, vec![V::S("{\"value\":1}".into())]),
            (WS_CONN_MESSAGE, vec![V::I(h), V::S("two".into())]),
        ]
    );
    // Unbound events are not emitted.
    let h2 = m.open("ws://h/");
    let id2 = m.transport().last_id();
    m.transport_mut().connect(id2);
    m.transport_mut().text(id2, "nobody listens");
    m.tick(Instant::ZERO);
    assert!(take_events(&mut m).is_empty());
    assert_eq!(m.state(h2), "open");
}

#[test]
fn send_returns_utf8_length_or_minus_one() {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    assert_eq!(m.send(h, "early"), -1, "send before open");
    assert_eq!(m.state(h), "connecting");
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    assert_eq!(m.send(h, "héllo €"), 10);
    assert_eq!(m.send(h, ""), 0);
    // Backpressure: -1, the connection stays open, a later retry succeeds.
    m.transport_mut().backpressure = true;
    assert_eq!(m.send(h, "later"), -1);
    assert_eq!(m.state(h), "open");
    m.transport_mut().backpressure = false;
    assert_eq!(m.send(h, "later"), 5);
    assert_eq!(
        m.transport().sent,
        vec![
            (id, "héllo €".to_string()),
            (id, String::new()),
            (id, "later".to_string())
        ]
    );
    assert_eq!(m.send(-1, "x"), -1, "bad handle");
    assert_eq!(m.close(h), 0);
    assert_eq!(m.send(h, "x"), -1, "closed handle");
}

#[test]
fn ping_and_set_timeout() {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    assert_eq!(m.ping(h), -1, "not open yet");
    assert_eq!(m.set_timeout(h, 5000), 0, "no-op, valid handle");
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    assert_eq!(m.ping(h), 0);
    assert_eq!(m.transport().pings, vec![id]);
    assert_eq!(m.ping(12345), -1);
    assert_eq!(m.set_timeout(12345, 1), -1);
    assert_eq!(m.state(h), "open", "setTimeout changed nothing");
}

#[test]
fn state_follows_the_lifecycle() {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    assert_eq!(m.state(h), "connecting");
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    assert_eq!(m.state(h), "open");
    m.set_auto_reconnect(h, true);
    m.transport_mut().end(id, reset());
    m.tick(Instant::from_millis(10));
    assert_eq!(m.state(h), "connecting", "reconnect pending");
    m.tick(Instant::from_millis(1010));
    assert_eq!(m.state(h), "connecting", "reconnect under way");
    let id2 = m.transport().last_id();
    m.transport_mut().connect(id2);
    m.tick(Instant::from_millis(1020));
    assert_eq!(m.state(h), "open");
    m.close(h);
    assert_eq!(m.state(h), "closed", "closed from close() on");
    // A drop with no reconnect ends the handle.
    let (h, id) = open_bound(&mut m);
    m.transport_mut().connect(id);
    m.tick(Instant::from_millis(2000));
    m.transport_mut().end(id, reset());
    m.tick(Instant::from_millis(2001));
    assert_eq!(m.state(h), "closed");
    assert_eq!(m.send(h, "x"), -1);
}

#[test]
fn connected_and_disconnected_fire_once() {
    let mut m = module();
    // The first open fails before ever connecting: "disconnected" once, even
    // though the backoff series that follows fails too.
    let (h, id) = open_bound(&mut m);
    m.set_auto_reconnect(h, true);
    m.transport_mut().end(id, refused());
    m.tick(Instant::ZERO);
    assert_eq!(take_events(&mut m), vec![(WS_DISCONNECTED, vec![V::I(h)])]);
    for t in [1000, 2000, 3000] {
        m.tick(Instant::from_millis(t));
        let id = m.transport().last_id();
        m.transport_mut().end(id, refused());
        m.tick(Instant::from_millis(t));
    }
    assert!(take_events(&mut m).is_empty(), "failed attempts are silent");
    m.tick(Instant::from_millis(4000));
    let id = m.transport().last_id();
    m.transport_mut().connect(id);
    m.tick(Instant::from_millis(4000));
    assert_eq!(take_events(&mut m), vec![(WS_CONNECTED, vec![V::I(h)])]);
    // A drop of an open connection: "disconnected" once, before the attempt.
    m.transport_mut().end(id, reset());
    m.tick(Instant::from_millis(5000));
    assert_eq!(take_events(&mut m), vec![(WS_DISCONNECTED, vec![V::I(h)])]);
    let opens = m.transport().opens.len();
    m.tick(Instant::from_millis(6000));
    assert_eq!(m.transport().opens.len(), opens + 1);
    let id = m.transport().last_id();
    m.transport_mut().connect(id);
    m.tick(Instant::from_millis(6000));
    // An explicit close of an open connection: "disconnected" once, when the
    // close handshake is over.
    assert_eq!(m.close(h), 0);
    assert_eq!(take_events(&mut m), vec![(WS_CONNECTED, vec![V::I(h)])]);
    m.tick(Instant::from_millis(6001));
    assert_eq!(take_events(&mut m), vec![(WS_DISCONNECTED, vec![V::I(h)])]);
    assert_eq!(m.slots_in_use(), 0);
    // A first open that fails with auto-reconnect off: once, then the handle ends.
    let (h, id) = open_bound(&mut m);
    m.transport_mut().end(id, refused());
    m.tick(Instant::from_millis(7000));
    m.tick(Instant::from_millis(60_000));
    assert_eq!(take_events(&mut m), vec![(WS_DISCONNECTED, vec![V::I(h)])]);
    assert_eq!(m.state(h), "closed");
    // Closing while still connecting: nothing was open, nothing fires.
    let (h, _) = open_bound(&mut m);
    assert_eq!(m.close(h), 0);
    m.tick(Instant::from_millis(60_001));
    assert!(take_events(&mut m).is_empty());
    assert_eq!(m.slots_in_use(), 0);
}

/// Drives the module through drops and failed attempts, returning the
/// virtual times of every transport `open` after the first.
fn attempts_after_drop(delays: Option<&[i64]>, failures: usize) -> (M, i32, Vec<u64>) {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    m.set_auto_reconnect(h, true);
    if let Some(d) = delays {
        assert_eq!(m.set_reconnect_delays(h, d), 0);
    }
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    m.transport_mut().end(id, reset());
    m.tick(Instant::from_millis(100)); // the drop is seen at t = 100
    let mut t = 100;
    for _ in 0..failures {
        // Step 1 ms at a time up to the attempt: it must not start early.
        // None: a zero delay already started the attempt in the last tick.
        let due = m.next_reconnect().map_or(t, Instant::millis);
        while t < due {
            t += 1;
            m.tick(Instant::from_millis(t));
            if t < due {
                assert!(!m.has_active_links(), "attempt before {due} at {t}");
            }
        }
        let id = m.transport().last_id();
        m.transport_mut().end(id, refused());
        m.tick(Instant::from_millis(t));
    }
    let opens = m
        .transport()
        .opens
        .iter()
        .skip(1)
        .map(|(_, t)| *t)
        .collect();
    (m, h, opens)
}

#[test]
fn reconnect_schedule_last_delay_repeats() {
    let (_, _, opens) = attempts_after_drop(Some(&[1, 2, 5]), 5);
    assert_eq!(opens, vec![1100, 3100, 8100, 13_100, 18_100]);
}

#[test]
fn reconnect_default_is_one_second() {
    let (_, _, opens) = attempts_after_drop(None, 3);
    assert_eq!(opens, vec![1100, 2100, 3100]);
    // An empty schedule restores the default.
    let (_, _, opens) = attempts_after_drop(Some(&[]), 2);
    assert_eq!(opens, vec![1100, 2100]);
    // A zero delay is the 100 ms minimum, never a spin.
    let (_, _, opens) = attempts_after_drop(Some(&[0]), 2);
    assert_eq!(opens, vec![200, 300], "0 s is taken as MIN_DELAY_MS");
}

#[test]
fn reconnect_index_resets_after_success() {
    let (mut m, h, _) = attempts_after_drop(Some(&[1, 2, 5]), 2);
    // Third attempt (at 3100 + 5000) succeeds.
    m.tick(Instant::from_millis(8100));
    let id = m.transport().last_id();
    assert_eq!(m.transport().opens.last().unwrap().1, 8100);
    m.transport_mut().connect(id);
    m.tick(Instant::from_millis(8100));
    assert_eq!(m.state(h), "open");
    m.transport_mut().end(id, reset());
    m.tick(Instant::from_millis(9000));
    assert_eq!(
        m.next_reconnect(),
        Some(Instant::from_millis(10_000)),
        "back to 1 s"
    );
}

#[test]
fn bad_schedules_are_refused_whole() {
    let mut m = module();
    let (h, _) = open_bound(&mut m);
    assert_eq!(m.set_reconnect_delays(h, &[3, 4]), 0);
    assert_eq!(m.set_reconnect_delays(h, &[1; 9]), -1);
    assert!(m.host().diagnostics.last().unwrap().contains("at most 8"));
    assert_eq!(m.set_reconnect_delays(h, &[1, -2, 3]), -1);
    assert!(m.host().diagnostics.last().unwrap().contains("negative"));
    assert_eq!(m.set_reconnect_delays(h, &[1; 8]), 0, "8 entries are fine");
    assert_eq!(m.set_reconnect_delays(-1, &[1]), -1);
    // After refusals, the schedule in force is the last accepted one.
    let mut m2 = module();
    let (h2, id2) = open_bound(&mut m2);
    m2.set_auto_reconnect(h2, true);
    assert_eq!(m2.set_reconnect_delays(h2, &[3, 4]), 0);
    assert_eq!(
        m2.set_reconnect_delays(h2, &[9, 9, 9, 9, 9, 9, 9, 9, 9]),
        -1
    );
    assert_eq!(m2.set_reconnect_delays(h2, &[-1]), -1);
    m2.transport_mut().connect(id2);
    m2.tick(Instant::ZERO);
    m2.transport_mut().end(id2, reset());
    m2.tick(Instant::ZERO);
    assert_eq!(m2.next_reconnect(), Some(Instant::from_millis(3000)));
}

#[test]
fn close_disables_reconnect() {
    // Closed while open: no attempt ever follows.
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    m.set_auto_reconnect(h, true);
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    assert_eq!(m.close(h), 0);
    assert_eq!(m.state(h), "closed");
    assert_eq!(m.transport().closes, vec![id]);
    for t in (0..120_000).step_by(500) {
        m.tick(Instant::from_millis(t));
    }
    assert_eq!(m.transport().opens.len(), 1);
    assert_eq!(m.next_reconnect(), None);
    // Closed while a reconnect is pending: the attempt is cancelled.
    let (h, id) = open_bound(&mut m);
    m.set_auto_reconnect(h, true);
    m.transport_mut().connect(id);
    m.tick(Instant::from_millis(200_000));
    m.transport_mut().end(id, reset());
    m.tick(Instant::from_millis(200_000));
    assert_eq!(m.state(h), "connecting");
    assert_eq!(m.close(h), 0);
    assert_eq!(m.state(h), "closed");
    m.tick(Instant::from_millis(300_000));
    assert_eq!(m.transport().opens.len(), 2);
    assert_eq!(m.slots_in_use(), 0);
    // Disabling auto-reconnect while pending cancels it too.
    let (h, id) = open_bound(&mut m);
    m.set_auto_reconnect(h, true);
    m.transport_mut().connect(id);
    m.tick(Instant::from_millis(400_000));
    m.transport_mut().end(id, reset());
    m.tick(Instant::from_millis(400_000));
    assert_eq!(m.set_auto_reconnect(h, false), 0);
    m.tick(Instant::from_millis(500_000));
    assert_eq!(m.transport().opens.len(), 3);
    assert_eq!(m.state(h), "closed");
}

#[test]
fn binary_messages_are_dropped_and_the_connection_stays() {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    m.transport_mut().connect(id);
    m.transport_mut()
        .queue
        .push_back((id, Scripted::Binary(vec![1, 2, 3])));
    m.transport_mut().text(id, "after");
    m.tick(Instant::ZERO);
    assert_eq!(
        take_events(&mut m),
        vec![
            (WS_CONNECTED, vec![V::I(h)]),
            (WS_MESSAGE, vec![V::S("after".into())])
        ]
    );
    assert!(m
        .host()
        .diagnostics
        .iter()
        .any(|d| d.contains("binary message of 3 bytes")));
    assert_eq!(m.state(h), "open");
}

#[test]
fn oversized_message_is_reported() {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    let too_big = Disconnect::Error(Error::Protocol(ProtocolError::MessageTooBig));
    m.transport_mut().end(id, too_big);
    m.tick(Instant::ZERO);
    let d = m.host().diagnostics.last().unwrap();
    assert!(d.contains("1009") && d.contains("receive limit"), "{d}");
    assert_eq!(
        take_events(&mut m),
        vec![
            (WS_CONNECTED, vec![V::I(h)]),
            (WS_DISCONNECTED, vec![V::I(h)])
        ]
    );
}

#[test]
fn messages_after_close_are_not_delivered() {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    take_events(&mut m);
    // The server's message crosses our close frame.
    m.transport_mut().text(id, "late");
    assert_eq!(m.close(h), 0);
    m.tick(Instant::ZERO);
    assert_eq!(take_events(&mut m), vec![(WS_DISCONNECTED, vec![V::I(h)])]);
}

#[test]
fn reconnect_refused_by_the_transport_is_a_failed_attempt() {
    // ESP32 while the station has no IP: the attempt fails at once.
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    m.set_auto_reconnect(h, true);
    assert_eq!(m.set_reconnect_delays(h, &[1, 3]), 0);
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    m.transport_mut().end(id, reset());
    m.transport_mut().fail_open = Some(OpenFailure::NetworkDown);
    m.tick(Instant::ZERO);
    m.tick(Instant::from_millis(1000));
    m.tick(Instant::from_millis(4000));
    m.tick(Instant::from_millis(6999));
    assert_eq!(m.state(h), "connecting");
    m.transport_mut().fail_open = None;
    m.tick(Instant::from_millis(7000));
    let opens: Vec<u64> = m.transport().opens.iter().map(|(_, t)| *t).collect();
    assert_eq!(opens, vec![0, 1000, 4000, 7000]);
    let id = m.transport().last_id();
    m.transport_mut().connect(id);
    m.tick(Instant::from_millis(7000));
    assert_eq!(
        take_events(&mut m),
        vec![
            (WS_CONNECTED, vec![V::I(h)]),
            (WS_DISCONNECTED, vec![V::I(h)]),
            (WS_CONNECTED, vec![V::I(h)])
        ]
    );
    assert!(m
        .host()
        .diagnostics
        .iter()
        .any(|d| d.contains("reconnect of") && d.contains("network not ready")));
}

mod ext;
