//! The module over the real std transport against tungstenite servers on
//! 127.0.0.1: the document's functions end to end, the -1 paths that need a
//! real socket (backpressure, the 17th open), the 1009 limit, and
//! auto-reconnect against a server killed and restarted on the same port,
//! driven by an injected (virtual) clock.

mod support;

use std::time::{Duration, Instant as StdInstant};

use support::{Ev, Mode, Server, Vm, WS_CONNECTED, WS_CONN_MESSAGE, WS_DISCONNECTED, WS_MESSAGE};
use ws_proto::{Instant, SessionEvent, State};
use ws_transport_std::{Client, ClientConfig, Clock, ConnId};
use ws_vm_binding::{CommandFailure, ModuleConfig, OpenFailure, Transport, WsModule};

type Module<T = Client> = WsModule<T, Vm>;

fn module_with(config: ClientConfig) -> (Module, Clock) {
    let clock = Clock::new();
    let client = Client::new(config).unwrap();
    let m = WsModule::new(client, Vm::default(), ModuleConfig::host(), clock.now());
    (m, clock)
}

fn module() -> (Module, Clock) {
    module_with(ClientConfig::default())
}

/// Runs the event loop on the real clock until `done` or 10 s (then panics).
fn run_until(m: &mut Module, clock: &Clock, what: &str, mut done: impl FnMut(&mut Module) -> bool) {
    let deadline = StdInstant::now() + Duration::from_secs(10);
    loop {
        m.tick(clock.now());
        if done(m) {
            return;
        }
        assert!(
            StdInstant::now() < deadline,
            "timed out waiting for {what}; diagnostics: {:?}",
            m.host().diagnostics
        );
        m.wait(Duration::from_millis(20));
    }
}

fn bind_all(m: &mut Module, h: i32) {
    assert_eq!(m.on(h, "connected", WS_CONNECTED), 0);
    assert_eq!(m.on(h, "disconnected", WS_DISCONNECTED), 0);
    assert_eq!(m.on(h, "message", WS_MESSAGE), 0);
}

fn has(m: &Module, ev: &Ev) -> bool {
    m.host().events.contains(ev)
}

#[test]
fn command_channel_end_to_end() {
    let server = Server::start(Mode::Command);
    let (mut m, clock) = module();
    let h = m.open(&server.url("/control"));
    assert!(h >= 0);
    bind_all(&mut m, h);
    assert_eq!(m.state(h), "connecting");
    assert_eq!(m.send(h, "too early"), -1, "send before open");
    assert_eq!(m.set_timeout(h, 1000), 0);
    run_until(&mut m, &clock, "connected", |m| has(m, &Ev::Connected(h)));
    assert_eq!(m.state(h), "open");
    let cmd = r#"{"cmd":"start","id":42}"#;
    assert_eq!(m.send(h, cmd), cmd.len() as i32);
    assert_eq!(m.ping(h), 0);
    run_until(&mut m, &clock, "the reply", |m| m.host().events.len() >= 2);
    let Ev::Message(reply) = &m.host().events[1] else {
        panic!("{:?}", m.host().events)
    };
    let v: serde_json::Value = serde_json::from_str(reply).unwrap();
    assert_eq!(v["status"], "started");
    assert_eq!(v["id"], 42);
    // Close: "closed" at once, "disconnected" when the close handshake is done.
    assert_eq!(m.close(h), 0);
    assert_eq!(m.state(h), "closed");
    assert_eq!(m.send(h, "x"), -1, "send on a closed handle");
    assert_eq!(m.close(h), -1, "close twice");
    run_until(&mut m, &clock, "disconnected", |m| {
        has(m, &Ev::Disconnected(h))
    });
    assert_eq!(
        m.host()
            .events
            .iter()
            .filter(|e| **e == Ev::Disconnected(h))
            .count(),
        1
    );
    let deadline = StdInstant::now() + Duration::from_secs(5);
    while !server.log().contains(&"close:1000".to_string()) {
        assert!(
            StdInstant::now() < deadline,
            "server log {:?}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(server.log().contains(&format!("text:{cmd}")));
    assert_eq!(m.slots_in_use(), 0);
}

#[test]
fn send_under_backpressure_returns_minus_one_and_stays_open() {
    let server = Server::start(Mode::Sink);
    let (mut m, clock) = module_with(ClientConfig {
        tx_capacity: 64 << 10,
        ..ClientConfig::default()
    });
    let h = m.open(&server.url("/"));
    bind_all(&mut m, h);
    run_until(&mut m, &clock, "connected", |m| has(m, &Ev::Connected(h)));
    // No tick between sends: nothing drains, so the queue fills.
    let chunk = "x".repeat(16 << 10);
    let mut queued = 0;
    let mut refused = false;
    for _ in 0..100 {
        match m.send(h, &chunk) {
            -1 => {
                refused = true;
                break;
            }
            n => {
                assert_eq!(n, chunk.len() as i32);
                queued += 1;
            }
        }
    }
    assert!(refused, "the queue never filled");
    assert!(queued >= 2, "queued {queued}");
    assert_eq!(m.state(h), "open", "backpressure is not fatal");
    assert!(
        m.host().diagnostics.is_empty(),
        "{:?}",
        m.host().diagnostics
    );
    // Retry on later turns: the queue drains to the socket and takes it.
    run_until(&mut m, &clock, "room in the queue", |m| {
        m.send(h, &chunk) >= 0
    });
    queued += 1;
    let deadline = StdInstant::now() + Duration::from_secs(10);
    loop {
        m.tick(clock.now());
        let got = server
            .log()
            .iter()
            .filter(|l| l.starts_with("text:"))
            .count();
        if got == queued {
            break;
        }
        assert!(StdInstant::now() < deadline, "server got {got} of {queued}");
        m.wait(Duration::from_millis(10));
    }
    assert_eq!(m.state(h), "open");
    assert!(!has(&m, &Ev::Disconnected(h)));
}

#[test]
fn sixteen_connections_then_minus_one() {
    let server = Server::start(Mode::Echo);
    let (mut m, clock) = module();
    let url = server.url("/");
    let handles: Vec<i32> = (0..16).map(|_| m.open(&url)).collect();
    assert!(handles.iter().all(|h| *h >= 0), "{handles:?}");
    for &h in &handles {
        assert_eq!(m.on(h, "connected", WS_CONNECTED), 0);
        assert_eq!(m.on(h, "disconnected", WS_DISCONNECTED), 0);
        assert_eq!(m.on(h, "message", WS_CONN_MESSAGE), 0);
    }
    assert_eq!(m.open(&url), -1, "17th open");
    run_until(&mut m, &clock, "16 connected", |m| {
        m.host()
            .events
            .iter()
            .filter(|e| matches!(e, Ev::Connected(_)))
            .count()
            == 16
    });
    // Each connection's echo reaches its own handle.
    for &h in &handles {
        assert!(m.send(h, &format!("from {h}")) > 0);
    }
    run_until(&mut m, &clock, "16 echoes", |m| {
        m.host()
            .events
            .iter()
            .filter(|e| matches!(e, Ev::ConnMessage(..)))
            .count()
            == 16
    });
    for &h in &handles {
        assert!(has(&m, &Ev::ConnMessage(h, format!("from {h}"))));
    }
    assert_eq!(m.open(&url), -1, "still full");
    let gone = handles[5];
    assert_eq!(m.close(gone), 0);
    run_until(&mut m, &clock, "the close", |m| {
        has(m, &Ev::Disconnected(gone))
    });
    let fresh = m.open(&url);
    assert!(fresh >= 0);
    assert_ne!(fresh, gone);
    assert_eq!(m.send(gone, "stale"), -1);
    assert_eq!(m.state(gone), "closed");
}

#[test]
fn message_over_the_limit_closes_with_1009_and_reports_it() {
    let server = Server::start(Mode::Big { len: 4000 });
    let (mut m, clock) = module_with(ClientConfig {
        max_message_size: 1024,
        ..ClientConfig::default()
    });
    let h = m.open(&server.url("/"));
    bind_all(&mut m, h);
    run_until(&mut m, &clock, "disconnected", |m| {
        has(m, &Ev::Disconnected(h))
    });
    assert_eq!(m.host().events, vec![Ev::Connected(h), Ev::Disconnected(h)]);
    let d = m.host().diagnostics.join("\n");
    assert!(d.contains("1009") && d.contains("receive limit"), "{d}");
    assert_eq!(m.state(h), "closed");
    let deadline = StdInstant::now() + Duration::from_secs(5);
    while !server.log().contains(&"close:1009".to_string()) {
        assert!(
            StdInstant::now() < deadline,
            "server log {:?}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn binary_is_dropped_and_fragments_arrive_whole() {
    let server = Server::start(Mode::BinaryThenText);
    let (mut m, clock) = module();
    let h = m.open(&server.url("/"));
    bind_all(&mut m, h);
    run_until(&mut m, &clock, "after", |m| {
        has(m, &Ev::Message("after".into()))
    });
    assert!(m
        .host()
        .diagnostics
        .iter()
        .any(|d| d.contains("binary message of 3 bytes")));
    assert!(!m
        .host()
        .events
        .iter()
        .any(|e| matches!(e, Ev::Message(t) if t != "after")));
    assert_eq!(m.state(h), "open");
    assert_eq!(m.send(h, "still open"), 10);
    run_until(&mut m, &clock, "echo", |m| {
        has(m, &Ev::Message("still open".into()))
    });

    let server = Server::start(Mode::Fragmented);
    let h = m.open(&server.url("/"));
    assert_eq!(m.on(h, "message", WS_CONN_MESSAGE), 0);
    run_until(&mut m, &clock, "whole message", |m| {
        has(m, &Ev::ConnMessage(h, "Hello, fragmented world".into()))
    });
}

#[test]
fn first_open_refused_fires_disconnected_once() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (mut m, clock) = module();
    let h = m.open(&format!("ws://127.0.0.1:{port}/"));
    assert!(h >= 0, "open is non-blocking: the refusal comes later");
    bind_all(&mut m, h);
    run_until(&mut m, &clock, "disconnected", |m| {
        has(m, &Ev::Disconnected(h))
    });
    for _ in 0..20 {
        m.tick(clock.now());
        m.wait(Duration::from_millis(5));
    }
    assert_eq!(m.host().events, vec![Ev::Disconnected(h)]);
    assert_eq!(m.state(h), "closed");
    assert!(
        m.host().diagnostics.iter().any(|d| d.contains("refused")),
        "{:?}",
        m.host().diagnostics
    );
    // Opens that fail at once return -1.
    assert_eq!(m.open("ws://user@127.0.0.1:1/"), -1);
    assert_eq!(m.open("http://127.0.0.1/"), -1);
    assert_eq!(m.open("ws://"), -1);
}

/// The std client, recording the virtual time of every `open` call.
struct Recording {
    inner: Client,
    opens: Vec<u64>,
}

impl Transport for Recording {
    type Id = ConnId;
    fn open_with(
        &mut self,
        url: &str,
        options: &ws_proto::HandshakeOptions<'_>,
        now: Instant,
    ) -> Result<ConnId, OpenFailure> {
        self.opens.push(now.millis());
        Transport::open_with(&mut self.inner, url, options, now)
    }
    fn send_binary(&mut self, id: ConnId, data: &[u8]) -> Result<(), CommandFailure> {
        Transport::send_binary(&mut self.inner, id, data)
    }
    fn send_text(&mut self, id: ConnId, text: &str) -> Result<(), CommandFailure> {
        Transport::send_text(&mut self.inner, id, text)
    }
    fn ping(&mut self, id: ConnId, payload: &[u8]) -> Result<(), CommandFailure> {
        Transport::ping(&mut self.inner, id, payload)
    }
    fn close(
        &mut self,
        id: ConnId,
        now: Instant,
        code: u16,
        reason: &str,
    ) -> Result<(), CommandFailure> {
        Transport::close(&mut self.inner, id, now, code, reason)
    }
    fn set_keepalive(
        &mut self,
        id: ConnId,
        interval: u64,
        timeout: u64,
        now: Instant,
    ) -> Result<(), CommandFailure> {
        let _ = (interval, timeout, now);
        Transport::set_keepalive(&mut self.inner, id, interval, timeout, now)
    }

    fn state(&self, id: ConnId) -> Option<State> {
        Transport::state(&self.inner, id)
    }
    fn poll(&mut self, now: Instant) -> Option<(ConnId, SessionEvent<'_>)> {
        Transport::poll(&mut self.inner, now)
    }
}

/// A virtual clock: frozen while a connection attempt is in flight (real
/// time passes, virtual time does not), and jumped straight to the next
/// scheduled reconnect when nothing is in flight. So every attempt starts at
/// exactly its scheduled virtual time, and each failure is seen at the
/// virtual time of its attempt.
struct Virtual {
    m: WsModule<Recording, Vm>,
    now: u64,
}

impl Virtual {
    /// Ticks (real time passing, virtual time frozen) until `done`, or 10 s.
    fn settle(&mut self, what: &str, mut done: impl FnMut(&WsModule<Recording, Vm>) -> bool) {
        let deadline = StdInstant::now() + Duration::from_secs(10);
        loop {
            self.m.tick(Instant::from_millis(self.now));
            if done(&self.m) {
                return;
            }
            assert!(StdInstant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Jumps to the next scheduled attempt, ticks, and waits for its outcome:
    /// returns true when it connected.
    fn next_attempt(&mut self, h: i32) -> bool {
        let at = self
            .m
            .next_reconnect()
            .expect("a reconnect is scheduled")
            .millis();
        assert!(at >= self.now);
        // One tick just before the deadline must not start it.
        if at > self.now {
            let opens = self.m.transport().opens.len();
            self.m.tick(Instant::from_millis(at - 1));
            assert_eq!(
                self.m.transport().opens.len(),
                opens,
                "attempt started early"
            );
        }
        self.now = at;
        let connected = self
            .m
            .host()
            .events
            .iter()
            .filter(|e| **e == Ev::Connected(h))
            .count();
        self.settle("the attempt's outcome", |m| {
            m.next_reconnect().is_some()
                || m.host()
                    .events
                    .iter()
                    .filter(|e| **e == Ev::Connected(h))
                    .count()
                    > connected
        });
        self.m.next_reconnect().is_none()
    }
}

#[test]
fn reconnect_against_a_killed_and_restarted_server_on_a_virtual_clock() {
    let mut server = Server::start(Mode::Echo);
    let client = Client::new(ClientConfig::default()).unwrap();
    let rec = Recording {
        inner: client,
        opens: Vec::new(),
    };
    let m = WsModule::new(rec, Vm::default(), ModuleConfig::host(), Instant::ZERO);
    let mut v = Virtual { m, now: 0 };
    let h = v.m.open(&server.url("/sensors"));
    assert!(h >= 0);
    assert_eq!(v.m.set_auto_reconnect(h, true), 0);
    assert_eq!(v.m.set_reconnect_delays(h, &[1, 2, 5]), 0);
    assert_eq!(v.m.on(h, "connected", WS_CONNECTED), 0);
    assert_eq!(v.m.on(h, "disconnected", WS_DISCONNECTED), 0);
    v.settle("connected", |m| m.state(h) == "open");
    assert_eq!(v.m.transport().opens, vec![0]);

    // 1. The server dies at t = 100 s: "disconnected" once, then attempts at
    //    +1 s, +2 s, +5 s, +5 s (the last delay repeats) while it is down.
    v.now = 100_000;
    server.kill();
    v.settle("disconnected", |m| {
        m.host().events.contains(&Ev::Disconnected(h))
    });
    assert_eq!(v.m.state(h), "connecting");
    for _ in 0..4 {
        assert!(!v.next_attempt(h), "connected while the server is down");
    }
    assert_eq!(
        v.m.transport().opens,
        vec![0, 101_000, 103_000, 108_000, 113_000]
    );
    // 2. The server comes back on the same port: the next attempt (again
    //    +5 s) connects, and "connected" fires once.
    server.restart();
    assert!(v.next_attempt(h));
    assert_eq!(v.m.transport().opens.last(), Some(&118_000));
    assert_eq!(v.m.state(h), "open");
    assert_eq!(
        v.m.host().events,
        vec![Ev::Connected(h), Ev::Disconnected(h), Ev::Connected(h)]
    );
    assert_eq!(v.m.send(h, "back"), 4);

    // 3. After the success the index is back at 0: the next drop retries
    //    after 1 s, then 2 s.
    v.now = 200_000;
    server.kill();
    v.settle("second disconnected", |m| {
        m.host()
            .events
            .iter()
            .filter(|e| **e == Ev::Disconnected(h))
            .count()
            == 2
    });
    assert!(!v.next_attempt(h));
    server.restart();
    assert!(v.next_attempt(h));
    let tail: Vec<u64> =
        v.m.transport()
            .opens
            .iter()
            .rev()
            .take(2)
            .rev()
            .copied()
            .collect();
    assert_eq!(tail, vec![201_000, 203_000]);
    v.settle("connected again", |m| m.state(h) == "open");

    // 4. close() disables auto-reconnect: kill the server, advance a minute of
    //    virtual time: no attempt.
    let opens = v.m.transport().opens.len();
    assert_eq!(v.m.close(h), 0);
    assert_eq!(v.m.state(h), "closed");
    v.settle("the close handshake", |m| m.slots_in_use() == 0);
    server.kill();
    for step in 0..120 {
        v.now += 500;
        v.m.tick(Instant::from_millis(v.now));
        if step % 20 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert_eq!(v.m.transport().opens.len(), opens);
    assert_eq!(v.m.next_reconnect(), None);
    assert_eq!(
        v.m.host()
            .events
            .iter()
            .filter(|e| **e == Ev::Disconnected(h))
            .count(),
        3,
        "drop, drop, close: {:?}",
        v.m.host().events
    );
}

#[test]
fn host_names_resolve_off_thread() {
    let server = Server::start(Mode::Echo);
    let (mut m, clock) = module();
    // "localhost" may resolve to ::1 first; the server listens on 127.0.0.1 only.
    let h = m.open(&format!("ws://localhost:{}/", server.port));
    assert!(h >= 0);
    assert_eq!(m.on(h, "connected", WS_CONNECTED), 0);
    assert_eq!(m.on(h, "message", WS_CONN_MESSAGE), 0);
    run_until(&mut m, &clock, "connected", |m| has(m, &Ev::Connected(h)));
    assert_eq!(m.send(h, "hi"), 2);
    run_until(&mut m, &clock, "echo", |m| {
        has(m, &Ev::ConnMessage(h, "hi".into()))
    });
}
