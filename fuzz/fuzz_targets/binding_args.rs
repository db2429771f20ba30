//! `binding_args`: the VM module's functions (`ws-vm-binding`'s `WsModule`)
//! called with arbitrary arguments, over an in-memory transport the fuzzer
//! also drives (handshakes, messages, drops).
//!
//! Checked: every function returns -1 or its documented success value
//! (`open` a handle >= 0, `send` the message's byte length, the others 0);
//! handles are never reused; a closed handle is dead to every function
//! (-1, `state` "closed") for the rest of the run; `send` succeeds only on an
//! "open" connection; `on` refuses unknown names and layouts that do not match
//! the event type's signature; `setReconnectDelays` refuses more than 8 delays
//! or a negative one; `state` is one of the three documented strings; the
//! slots in use never pass the configured maximum; emitted events carry the
//! fields of their bound layout and a handle the module issued.
//!
//! The extensions too: `sendBinary` (the length, or -1), `closeWith`
//! (-1 with nothing sent for a code a client may not send or a reason over
//! 123 bytes, else the handle is closed), `openWith` with arbitrary headers
//! and subprotocols (-1 unless every entry is valid and within the bounds;
//! bounded copies only), `setKeepalive` (-1 outside 0..=86400 s), the
//! bytes / code-reason / protocol layouts, and `last_error` after those
//! calls (`None` exactly when the call succeeded).
//!
//! `WS_FUZZ_DEBUG=1` prints each run's handle and event counts.
#![no_main]

use std::collections::VecDeque;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::session::{Disconnect, LinkError, SessionEvent};
use ws_proto::{CloseFrame, Instant, Message, SendError, State, Url};
use ws_vm_binding::host::{EventType, Host, Value};
use ws_vm_binding::module::{ModuleConfig, WsModule};
use ws_vm_binding::transport::{CommandFailure, OpenFailure, Transport};
use ws_vm_binding::{
    ErrorCode, OpenOptions, BYTES_SIGNATURE, CONN_BYTES_SIGNATURE, CONN_CODE_REASON_SIGNATURE,
    CONN_MESSAGE_SIGNATURE, CONN_PROTOCOL_SIGNATURE, CONN_SIGNATURE, MAX_CLOSE_REASON, MAX_HEADERS,
    MAX_KEEPALIVE_S, MAX_OPTIONS_BYTES, MAX_PROTOCOLS, MESSAGE_SIGNATURE,
};

const URLS: [&str; 4] = [
    "ws://example.com/chat",
    "ws://[::1]:9001/x?y",
    "http://example.com/",
    "ws://user@h/",
];
const NAMES: [&str; 5] = ["connected", "disconnected", "message", "Message", ""];

#[derive(Arbitrary, Debug)]
enum Op {
    Open {
        url: u8,
        custom: Option<String>,
    },
    Close {
        h: Handle,
    },
    Send {
        h: Handle,
        message: String,
    },
    SendBinary {
        h: Handle,
        data: Vec<u8>,
    },
    CloseWith {
        h: Handle,
        code: i32,
        reason: String,
    },
    OpenWith {
        url: u8,
        headers: Vec<(String, String)>,
        protocols: Vec<String>,
        /// Repeat the first header this many times (the 10,000-header case).
        repeat: u16,
    },
    SetKeepalive {
        h: Handle,
        interval_s: i32,
        timeout_s: i32,
    },
    On {
        h: Handle,
        name: u8,
        custom: Option<String>,
        event_type: i32,
    },
    SetAutoReconnect {
        h: Handle,
        enabled: bool,
    },
    SetReconnectDelays {
        h: Handle,
        delays: Vec<i64>,
    },
    State {
        h: Handle,
    },
    Ping {
        h: Handle,
    },
    SetTimeout {
        h: Handle,
        ms: i32,
    },
    Tick {
        ms: u16,
    },
    ServerAccept {
        conn: u8,
    },
    ServerMessage {
        conn: u8,
        text: String,
    },
    ServerBinary {
        conn: u8,
        data: Vec<u8>,
    },
    ServerDrop {
        conn: u8,
    },
    Backpressure(bool),
}

/// A handle the module issued (by index), or any number.
#[derive(Arbitrary, Debug)]
enum Handle {
    Issued(u8),
    Raw(i32),
}

#[derive(Debug)]
enum Pending {
    Connected,
    Text(String),
    Binary(Vec<u8>),
    Closed(Disconnect<'static>),
}

/// An in-memory transport: ids count up, the fuzzer decides what the
/// "servers" do.
#[derive(Debug, Default)]
struct Fake {
    next: u32,
    conns: Vec<(u32, State)>,
    events: VecDeque<(u32, Pending)>,
    backpressure: bool,
    /// The message handed out by the last `poll`.
    text: String,
    data: Vec<u8>,
    /// The close frames sent: (id, code).
    closes: Vec<(u32, u16)>,
}

impl Fake {
    fn get(&mut self, id: u32) -> Result<&mut State, CommandFailure> {
        self.conns
            .iter_mut()
            .find(|(i, _)| *i == id)
            .map(|(_, s)| s)
            .ok_or(CommandFailure::UnknownConnection)
    }

    fn command(&mut self, id: u32) -> Result<(), CommandFailure> {
        let backpressure = self.backpressure;
        match *self.get(id)? {
            State::Open if backpressure => Err(CommandFailure::Send(SendError::Backpressure)),
            State::Open => Ok(()),
            State::Connecting => Err(CommandFailure::Send(SendError::NotOpen)),
            _ => Err(CommandFailure::Send(SendError::Closed)),
        }
    }
}

impl Transport for Fake {
    type Id = u32;

    fn open_with(
        &mut self,
        url: &str,
        options: &ws_proto::HandshakeOptions<'_>,
        _now: Instant,
    ) -> Result<u32, OpenFailure> {
        assert!(options.headers.len() <= MAX_HEADERS);
        assert!(options.protocols.len() <= MAX_PROTOCOLS);
        Url::parse(url).map_err(OpenFailure::Url)?;
        if self.conns.len() >= 16 {
            return Err(OpenFailure::TooManyConnections);
        }
        self.next += 1;
        self.conns.push((self.next, State::Connecting));
        Ok(self.next)
    }

    fn send_text(&mut self, id: u32, _text: &str) -> Result<(), CommandFailure> {
        self.command(id)
    }

    fn send_binary(&mut self, id: u32, _data: &[u8]) -> Result<(), CommandFailure> {
        self.command(id)
    }

    fn ping(&mut self, id: u32, _payload: &[u8]) -> Result<(), CommandFailure> {
        self.command(id)
    }

    fn close(
        &mut self,
        id: u32,
        _now: Instant,
        code: u16,
        _reason: &str,
    ) -> Result<(), CommandFailure> {
        self.closes.push((id, code));
        let state = self.get(id)?;
        match *state {
            State::Connecting => {
                *state = State::Closed;
                self.events
                    .push_back((id, Pending::Closed(Disconnect::Local)));
            }
            State::Open => {
                *state = State::Closing;
                let frame = CloseFrame {
                    code: Some(code),
                    reason: "",
                };
                self.events
                    .push_back((id, Pending::Closed(Disconnect::Clean(frame))));
            }
            _ => {}
        }
        Ok(())
    }

    fn set_keepalive(
        &mut self,
        id: u32,
        interval: u64,
        timeout: u64,
        now: Instant,
    ) -> Result<(), CommandFailure> {
        let _ = (interval, timeout, now);
        self.command(id)
    }

    fn state(&self, id: u32) -> Option<State> {
        self.conns.iter().find(|(i, _)| *i == id).map(|(_, s)| *s)
    }

    fn poll(&mut self, _now: Instant) -> Option<(u32, SessionEvent<'_>)> {
        loop {
            let (id, ev) = self.events.pop_front()?;
            // Events of an ended connection are dropped, as a transport would.
            let Some(pos) = self.conns.iter().position(|(i, _)| *i == id) else {
                continue;
            };
            return Some(match ev {
                Pending::Connected => (id, SessionEvent::Connected { protocol: None }),
                Pending::Text(t) => {
                    self.text = t;
                    (id, SessionEvent::Message(Message::Text(&self.text)))
                }
                Pending::Binary(d) => {
                    self.data = d;
                    (id, SessionEvent::Message(Message::Binary(&self.data)))
                }
                Pending::Closed(d) => {
                    self.conns.remove(pos);
                    (id, SessionEvent::Closed(d))
                }
            });
        }
    }
}

#[derive(Debug, Default)]
struct FakeHost {
    issued: Vec<i32>,
    emitted: usize,
}

/// Event types: 1 `{conn: i32}`, 2 `{message: string}`,
/// 3 `{conn: i32, message: string}`, 4 some other layout, 5 `{message:
/// bytes}`, 6 `{conn: i32, message: bytes}`, 7 `{conn: i32, code: i32,
/// reason: string}`, 8 `{conn: i32, protocol: string}`, else undeclared.
fn hash_of(event_type: EventType) -> Option<u32> {
    match event_type {
        1 => Some(CONN_SIGNATURE),
        2 => Some(MESSAGE_SIGNATURE),
        3 => Some(CONN_MESSAGE_SIGNATURE),
        4 => Some(0x1234_5678),
        5 => Some(BYTES_SIGNATURE),
        6 => Some(CONN_BYTES_SIGNATURE),
        7 => Some(CONN_CODE_REASON_SIGNATURE),
        8 => Some(CONN_PROTOCOL_SIGNATURE),
        _ => None,
    }
}

/// Whether `openWith` must take these options (the module's rules).
fn options_valid(headers: &[(&str, &str)], protocols: &[&str]) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let reserved = [
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "content-length",
        "transfer-encoding",
    ];
    let total: usize = headers
        .iter()
        .map(|(n, v)| n.len() + v.len())
        .sum::<usize>()
        + protocols.iter().map(|p| p.len()).sum::<usize>();
    headers.len() <= MAX_HEADERS
        && protocols.len() <= MAX_PROTOCOLS
        && total <= MAX_OPTIONS_BYTES
        && headers.iter().all(|(n, v)| {
            token(n)
                && !reserved.iter().any(|r| r.eq_ignore_ascii_case(n))
                && !v.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
        })
        && protocols.iter().all(|p| token(p))
}

impl Host for FakeHost {
    fn signature_hash(&self, event_type: EventType) -> Option<u32> {
        hash_of(event_type)
    }

    fn emit(&mut self, event_type: EventType, fields: &[Value<'_>]) {
        self.emitted += 1;
        match (event_type, fields) {
            (1, [Value::I32(h)])
            | (3, [Value::I32(h), Value::Str(_)])
            | (6, [Value::I32(h), Value::Bytes(_)])
            | (8, [Value::I32(h), Value::Str(_)]) => {
                assert!(self.issued.contains(h), "event for handle {h} never issued");
            }
            (7, [Value::I32(h), Value::I32(code), Value::Str(_)]) => {
                assert!(self.issued.contains(h), "event for handle {h} never issued");
                assert!((1000..5000).contains(code), "close code {code}");
            }
            (2, [Value::Str(_)]) | (5, [Value::Bytes(_)]) => {}
            _ => panic!("event type {event_type} emitted with fields {fields:?}"),
        }
    }

    fn diagnostic(&mut self, message: &str) {
        assert!(!message.is_empty());
    }
}

/// What the fuzzer knows of the handles.
#[derive(Default)]
struct Handles {
    issued: Vec<i32>,
    /// `close` returned 0 for these.
    closed: Vec<i32>,
    /// These stopped being valid without `close` (a drop with no reconnect).
    gone: Vec<i32>,
}

impl Handles {
    fn pick(&self, h: &Handle) -> i32 {
        match h {
            Handle::Issued(i) if !self.issued.is_empty() => {
                self.issued[usize::from(*i) % self.issued.len()]
            }
            Handle::Issued(_) => -1,
            Handle::Raw(r) => *r,
        }
    }

    /// Never issued, closed, or gone: every function must refuse it.
    fn dead(&self, h: i32) -> bool {
        h < 0 || !self.issued.contains(&h) || self.closed.contains(&h) || self.gone.contains(&h)
    }
}

fuzz_target!(|input: (bool, Vec<Op>)| {
    let (esp, ops) = input;
    let config = if esp {
        ModuleConfig::esp32()
    } else {
        ModuleConfig::host()
    };
    let mut now = Instant::ZERO;
    let mut m = WsModule::new(Fake::default(), FakeHost::default(), config, now);
    let mut hs = Handles::default();
    for op in ops.iter().take(300) {
        let pick = |h: &Handle| hs.pick(h);
        let dead = |h: i32| hs.dead(h);
        let state_before = |m: &WsModule<Fake, FakeHost>, h: i32| m.state(h);
        match op {
            Op::Open { url, custom } => {
                let url = custom
                    .as_deref()
                    .unwrap_or(URLS[usize::from(*url) % URLS.len()]);
                let h = m.open(url);
                if h >= 0 {
                    assert!(Url::parse(url).is_ok(), "opened a bad URL {url:?}");
                    assert!(!hs.issued.contains(&h), "handle {h} reused");
                    hs.issued.push(h);
                    m.host_mut().issued.push(h);
                } else {
                    assert_eq!(h, -1);
                }
            }
            Op::Close { h } => {
                let h = pick(h);
                let r = m.close(h);
                assert_eq!(r, if dead(h) { -1 } else { 0 });
                if r == 0 {
                    hs.closed.push(h);
                }
            }
            Op::Send { h, message } => {
                let h = pick(h);
                let open = state_before(&m, h) == "open";
                let r = m.send(h, message);
                assert!(
                    r == -1 || (r as usize == message.len() && open),
                    "send gave {r}"
                );
                if dead(h) {
                    assert_eq!(r, -1);
                }
            }
            Op::On {
                h,
                name,
                custom,
                event_type,
            } => {
                let h = pick(h);
                let name = custom
                    .as_deref()
                    .unwrap_or(NAMES[usize::from(*name) % NAMES.len()]);
                let et = event_type % 10;
                let r = m.on(h, name, et);
                let fits = matches!(
                    (name, hash_of(et)),
                    ("connected" | "disconnected", Some(CONN_SIGNATURE))
                        | ("connected", Some(CONN_PROTOCOL_SIGNATURE))
                        | ("disconnected", Some(CONN_CODE_REASON_SIGNATURE))
                        | (
                            "message",
                            Some(
                                MESSAGE_SIGNATURE
                                    | CONN_MESSAGE_SIGNATURE
                                    | BYTES_SIGNATURE
                                    | CONN_BYTES_SIGNATURE
                            )
                        )
                );
                assert_eq!(
                    r,
                    if dead(h) || !fits { -1 } else { 0 },
                    "on({h}, {name:?}, {et})"
                );
            }
            Op::SendBinary { h, data } => {
                let h = pick(h);
                let open = state_before(&m, h) == "open";
                let r = m.send_binary(h, data);
                check_last_error(&m, r);
                assert!(
                    r == -1 || (r as usize == data.len() && open),
                    "sendBinary gave {r}"
                );
                if dead(h) {
                    assert_eq!(r, -1);
                    assert_eq!(m.last_error(), ErrorCode::BadHandle);
                }
            }
            Op::CloseWith { h, code, reason } => {
                let h = pick(h);
                let sent = m.transport().closes.len();
                let r = m.close_with(h, *code, reason);
                check_last_error(&m, r);
                let valid = u16::try_from(*code).is_ok_and(ws_proto::close::is_valid_code)
                    && reason.len() <= MAX_CLOSE_REASON;
                if dead(h) || !valid {
                    assert_eq!(r, -1, "closeWith({h}, {code}, {} bytes)", reason.len());
                    assert_eq!(m.transport().closes.len(), sent, "nothing sent");
                } else {
                    assert_eq!(r, 0);
                    hs.closed.push(h);
                }
            }
            Op::OpenWith {
                url,
                headers,
                protocols,
                repeat,
            } => {
                let url = URLS[usize::from(*url) % URLS.len()];
                let mut hv: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                if let Some(first) = hv.first().copied() {
                    hv.extend(std::iter::repeat(first).take(usize::from(*repeat)));
                }
                let pv: Vec<&str> = protocols.iter().map(String::as_str).collect();
                let h = m.open_with(
                    url,
                    &OpenOptions {
                        headers: &hv,
                        protocols: &pv,
                    },
                );
                check_last_error(&m, h);
                if !options_valid(&hv, &pv) {
                    assert_eq!(h, -1, "openWith took bad options");
                    assert_eq!(m.last_error(), ErrorCode::InvalidArgument);
                } else if h >= 0 {
                    assert!(!hs.issued.contains(&h), "handle {h} reused");
                    hs.issued.push(h);
                    m.host_mut().issued.push(h);
                }
            }
            Op::SetKeepalive {
                h,
                interval_s,
                timeout_s,
            } => {
                let h = pick(h);
                let r = m.set_keepalive(h, *interval_s, *timeout_s);
                check_last_error(&m, r);
                let ok = (0..=MAX_KEEPALIVE_S).contains(interval_s)
                    && (0..=MAX_KEEPALIVE_S).contains(timeout_s);
                assert_eq!(r, if dead(h) || !ok { -1 } else { 0 });
            }
            Op::SetAutoReconnect { h, enabled } => {
                let h = pick(h);
                assert_eq!(
                    m.set_auto_reconnect(h, *enabled),
                    if dead(h) { -1 } else { 0 }
                );
            }
            Op::SetReconnectDelays { h, delays } => {
                let h = pick(h);
                let bad = delays.len() > 8 || delays.iter().any(|d| *d < 0);
                let r = m.set_reconnect_delays(h, delays);
                assert_eq!(r, if dead(h) || bad { -1 } else { 0 });
            }
            Op::State { h } => {
                let h = pick(h);
                let s = m.state(h);
                assert!(
                    ["connecting", "open", "closed"].contains(&s.as_str()),
                    "state {s:?}"
                );
                if dead(h) {
                    assert_eq!(s, "closed");
                }
            }
            Op::Ping { h } => {
                let h = pick(h);
                let r = m.ping(h);
                assert!(r == -1 || r == 0);
                if dead(h) {
                    assert_eq!(r, -1);
                }
            }
            Op::SetTimeout { h, ms } => {
                let h = pick(h);
                assert_eq!(m.set_timeout(h, *ms), if dead(h) { -1 } else { 0 });
            }
            Op::Tick { ms } => {
                now = now.plus_millis(u64::from(*ms) * 10);
                m.tick(now);
            }
            Op::ServerAccept { conn } => {
                let t = m.transport_mut();
                if let Some(i) = pick_conn(t, *conn) {
                    let (id, state) = &mut t.conns[i];
                    if *state == State::Connecting {
                        *state = State::Open;
                        let id = *id;
                        t.events.push_back((id, Pending::Connected));
                    }
                }
            }
            Op::ServerMessage { conn, text } => {
                let t = m.transport_mut();
                if let Some(i) = pick_conn(t, *conn) {
                    let id = t.conns[i].0;
                    t.events.push_back((id, Pending::Text(text.clone())));
                }
            }
            Op::ServerBinary { conn, data } => {
                let t = m.transport_mut();
                if let Some(i) = pick_conn(t, *conn) {
                    let id = t.conns[i].0;
                    t.events.push_back((id, Pending::Binary(data.clone())));
                }
            }
            Op::ServerDrop { conn } => {
                let t = m.transport_mut();
                if let Some(i) = pick_conn(t, *conn) {
                    let id = t.conns[i].0;
                    t.conns[i].1 = State::Closed;
                    let d = Disconnect::Link(LinkError::Reset);
                    t.events.push_back((id, Pending::Closed(d)));
                }
            }
            Op::Backpressure(on) => m.transport_mut().backpressure = *on,
        }
        assert!(m.slots_in_use() <= m.max_connections());
        // Which handles are still valid (setTimeout only checks the handle).
        for &h in &hs.issued {
            if !hs.dead(h) && m.set_timeout(h, 0) == -1 {
                hs.gone.push(h);
            }
        }
        for &h in hs.closed.iter().chain(&hs.gone) {
            assert_eq!(m.state(h), "closed", "dead handle {h} is not closed");
            assert_eq!(m.set_timeout(h, 0), -1, "dead handle {h} came back");
        }
    }
    if std::env::var_os("WS_FUZZ_DEBUG").is_some() {
        eprintln!(
            "STATS issued={} closed={} gone={} emitted={}",
            hs.issued.len(),
            hs.closed.len(),
            hs.gone.len(),
            m.host().emitted
        );
    }
});

fn pick_conn(t: &Fake, n: u8) -> Option<usize> {
    (!t.conns.is_empty()).then(|| usize::from(n) % t.conns.len())
}

/// `last_error` is `None` exactly when the call returned >= 0.
fn check_last_error(m: &WsModule<Fake, FakeHost>, r: i32) {
    assert_eq!(
        r >= 0,
        m.last_error() == ErrorCode::None,
        "{r} with {:?}",
        m.last_error()
    );
}
